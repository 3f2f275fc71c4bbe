"""The kill switch over HTTP: list (Viewer), activate and deactivate (Risk Manager)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound
from apps.core.serializers import StrictInputSerializer
from apps.killswitch.filters import KillSwitchFilter
from apps.killswitch.models import KillSwitch, KillSwitchScope, KillSwitchState
from apps.killswitch.selectors import kill_switch_list
from apps.killswitch.services import (
    COMMENT_MAX_LENGTH,
    REASON_MAX_LENGTH,
    kill_switch_activate,
    kill_switch_deactivate,
)
from apps.rbac.roles import Role

EXAMPLE_ACTIVATE = {
    "scope": "account",
    "target": "ACC-001",
    "state": "halted",
    "reason": "Runaway algorithm: 4,000 orders in 10 seconds from strat7.",
    "cancel_working": True,
}
EXAMPLE_SWITCH = {
    "id": 12,
    "scope": "account",
    "target": "ACC-001",
    "state": "halted",
    "reason": "Runaway algorithm: 4,000 orders in 10 seconds from strat7.",
    "is_active": True,
    "activated_by": "risk",
    "activated_at": "2026-11-20T15:04:05.123456Z",
    "deactivated_by": None,
    "deactivated_at": None,
    "canceled_orders": 1,
    "snapshot_counts": {"positions": 1, "working_orders": 1},
    "snapshot": {
        "taken_at": "2026-11-20T15:04:05.120000Z",
        "positions": [
            {
                "account": "ACC-001",
                "instrument": "AAPL",
                "quantity": "300",
                "average_cost": "188.25",
            }
        ],
        "working_orders": [
            {
                "id": 4711,
                "account": "ACC-001",
                "instrument": "AAPL",
                "side": "buy",
                "remaining_quantity": "100",
                "status": "accepted",
            }
        ],
    },
}


class KillSwitchOutputSerializer(serializers.Serializer):
    """A switch with the size of its snapshot (the snapshot itself in `snapshot`, when asked)."""

    id = serializers.IntegerField()
    scope = serializers.CharField()
    target = serializers.CharField()
    state = serializers.CharField()
    reason = serializers.CharField()
    is_active = serializers.BooleanField()
    activated_by = serializers.CharField(
        source="activator", help_text="A username, or the automated control's name."
    )
    activated_at = serializers.DateTimeField()
    deactivated_by = serializers.CharField(
        source="deactivated_by.username", default=None, allow_null=True
    )
    deactivated_at = serializers.DateTimeField(allow_null=True)
    lift_reason = serializers.CharField(help_text="Why trading was let through again.")
    canceled_orders = serializers.IntegerField()
    snapshot_counts = serializers.SerializerMethodField()

    def get_snapshot_counts(self, obj) -> dict[str, int]:
        snapshot = obj.snapshot or {}
        return {
            "positions": len(snapshot.get("positions", [])),
            "working_orders": len(snapshot.get("working_orders", [])),
        }


class KillSwitchDetailOutputSerializer(KillSwitchOutputSerializer):
    snapshot = serializers.JSONField()


class KillSwitchListCreateApi(ListAPIView):
    """GET: every switch, active ones first (`?active=true` for the live ones only).
    POST: activate a switch; it applies to the next order the gate decides."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.RISK_MANAGER}
    filterset_class = KillSwitchFilter
    serializer_class = KillSwitchOutputSerializer

    class InputSerializer(StrictInputSerializer):
        scope = serializers.ChoiceField(choices=KillSwitchScope.choices)
        target = serializers.CharField(
            max_length=64,
            required=False,
            allow_blank=True,
            allow_null=True,
            default="",
            help_text="Account code (account scope) or symbol/ISIN (instrument scope); "
            "empty for the firm.",
        )
        state = serializers.ChoiceField(choices=KillSwitchState.choices)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH)
        cancel_working = serializers.BooleanField(
            default=False, help_text="Also cancel the working orders in scope."
        )

    def get_queryset(self):
        return kill_switch_list(user=self.request.user)

    @extend_schema(
        request=InputSerializer,
        responses={201: KillSwitchDetailOutputSerializer},
        examples=[
            OpenApiExample("Halt one account", value=EXAMPLE_ACTIVATE, request_only=True),
            OpenApiExample("Activated", value=EXAMPLE_SWITCH, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        switch = kill_switch_activate(actor=request.user, **serializer.validated_data)
        return Response(
            KillSwitchDetailOutputSerializer(switch).data, status=status.HTTP_201_CREATED
        )


class KillSwitchDeactivateApi(APIView):
    """Let orders through again. A Risk Manager other than the activator (four-eyes)."""

    required_role = Role.RISK_MANAGER

    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(
            max_length=COMMENT_MAX_LENGTH,
            required=False,
            allow_blank=True,
            default="",
            help_text="Why trading may resume: kept on the switch and in the audit trail.",
        )
        comment = serializers.CharField(
            max_length=COMMENT_MAX_LENGTH,
            required=False,
            allow_blank=True,
            default="",
            help_text="The older name of `reason`, still accepted.",
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: KillSwitchDetailOutputSerializer},
        examples=[
            OpenApiExample(
                "Deactivate",
                value={"reason": "Algorithm fixed and re-certified; resuming."},
                request_only=True,
            )
        ],
    )
    def post(self, request, switch_id: int):
        switch = KillSwitch.objects.filter(pk=switch_id).first()
        if switch is None:
            raise NotFound("No such kill switch.", code="kill_switch_not_found")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        switch = kill_switch_deactivate(
            switch=switch, actor=request.user, reason=data["reason"], comment=data["comment"]
        )
        return Response(KillSwitchDetailOutputSerializer(switch).data)
