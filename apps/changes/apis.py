"""Configuration changes over HTTP: list and read them, propose one, approve or reject one.

The views need a Risk Manager (the lowest role that proposes anything); each kind's own roles
are the service's to check (a Risk Manager proposing a role change gets 403)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.changes import selectors
from apps.changes.filters import ConfigChangeFilter
from apps.changes.services import (
    COMMENT_MAX_LENGTH,
    config_change_decide,
    config_change_propose,
)
from apps.core.errors import NotFound
from apps.core.fields import TextOnlyField
from apps.core.serializers import StrictInputSerializer
from apps.rbac.roles import Role

EXAMPLE_CHANGE = {
    "id": 12,
    "kind": "account_limits",
    "target": "ACC-001",
    "status": "pending",
    "before": {"credit_limit": "250000"},
    "proposed": {"credit_limit": "500000"},
    "reason": "Client posted more collateral (ticket OPS-4411).",
    "proposed_by": "risk",
    "proposed_at": "2026-11-20T15:04:05.123456Z",
    "decided_by": None,
    "decided_at": None,
    "comment": "",
    "applied_id": None,
}
EXAMPLE_PROPOSAL = {
    "kind": "account_limits",
    "target": "ACC-001",
    "values": {"credit_limit": "500000"},
    "reason": "Client posted more collateral (ticket OPS-4411).",
}
EXAMPLE_COMMENT = {"comment": "Collateral receipt checked with operations."}


class ConfigChangeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(
        help_text="account_limits, account_cat_identifiers, instrument_economics, "
        "reference_price, fx_rate, user_role, entitlement."
    )
    target = serializers.CharField(
        source="target_key",
        help_text="An account code, a symbol, a currency pair (EUR/USD) or a username.",
    )
    status = serializers.CharField(help_text="pending, approved or rejected.")
    before = serializers.JSONField(
        allow_null=True, help_text="The proposed fields as they were when proposed."
    )
    proposed = serializers.JSONField(help_text="The values the change sets on approval.")
    reason = serializers.CharField()
    proposed_by = serializers.CharField(source="proposed_by.username")
    proposed_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField(help_text="The decider's comment.")
    applied_id = serializers.CharField(
        allow_null=True,
        help_text="The id of the row the approval wrote (a new FX rate or reference price).",
    )

    def to_representation(self, instance):
        body = super().to_representation(instance)
        body["applied_id"] = body["applied_id"] or None
        return body


def _change_or_404(request, change_id: int):
    change = selectors.change_get(user=request.user, change_id=change_id)
    if change is None:
        raise NotFound("No such configuration change.", code="change_not_found")
    return change


class ConfigChangeListProposeApi(ListAPIView):
    """GET: the configuration changes of the kinds your role may propose or approve, newest
    first (filter by status, kind, target, proposer, time). POST: propose one; nothing changes
    until another person of the kind's approving role approves it.

    400 for an unknown kind (`unknown_kind`), target (`unknown_target`) or field
    (`unknown_field`) and for a value the model refuses; 403 for a role below the kind's
    proposing role; 409 `change_pending` when the target has a pending change of that kind."""

    required_role = Role.RISK_MANAGER
    filterset_class = ConfigChangeFilter
    serializer_class = ConfigChangeOutputSerializer

    class InputSerializer(StrictInputSerializer):
        kind = TextOnlyField(max_length=40)
        target = TextOnlyField(max_length=200)
        values = serializers.DictField(help_text="Field names and their new values.")
        reason = TextOnlyField(max_length=COMMENT_MAX_LENGTH, required=False, default="")

    def get_queryset(self):
        return selectors.change_list(user=self.request.user)

    @extend_schema(
        request=InputSerializer,
        responses={201: ConfigChangeOutputSerializer},
        examples=[
            OpenApiExample("Raise a credit limit", value=EXAMPLE_PROPOSAL, request_only=True),
            OpenApiExample(
                "Set a role",
                value={"kind": "user_role", "target": "alice", "values": {"role": "trader"}},
                request_only=True,
            ),
            OpenApiExample("Pending", value=EXAMPLE_CHANGE, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        change = config_change_propose(
            kind=data["kind"],
            target=data["target"],
            values=data["values"],
            actor=request.user,
            reason=data["reason"],
        )
        return Response(ConfigChangeOutputSerializer(change).data, status=status.HTTP_201_CREATED)


class ConfigChangeDetailApi(APIView):
    required_role = Role.RISK_MANAGER

    @extend_schema(
        responses={200: ConfigChangeOutputSerializer},
        examples=[OpenApiExample("Pending", value=EXAMPLE_CHANGE, response_only=True)],
    )
    def get(self, request, change_id: int):
        return Response(ConfigChangeOutputSerializer(_change_or_404(request, change_id)).data)


class _ConfigChangeDecisionApi(APIView):
    required_role = Role.RISK_MANAGER
    approve: bool

    class InputSerializer(StrictInputSerializer):
        comment = TextOnlyField(max_length=COMMENT_MAX_LENGTH, help_text="Why; required.")

    def post(self, request, change_id: int):
        change = _change_or_404(request, change_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decided = config_change_decide(
            change=change,
            actor=request.user,
            approve=self.approve,
            comment=serializer.validated_data["comment"],
        )
        return Response(ConfigChangeOutputSerializer(decided).data)


class ConfigChangeApproveApi(_ConfigChangeDecisionApi):
    """Approve a pending change: it is applied now, through the service that owns the data,
    and audited in the same transaction.

    403 for a role below the kind's approving role, for the proposer (four-eyes) and for the
    user whose own role is changing; 409 when it is already decided (`change_decided`), when
    its target changed since it was proposed (`change_stale`) or when the domain refuses it
    now (an instrument's currency under working orders); the change then stays pending."""

    approve = True

    @extend_schema(
        request=_ConfigChangeDecisionApi.InputSerializer,
        responses={200: ConfigChangeOutputSerializer},
        examples=[
            OpenApiExample("Approve", value=EXAMPLE_COMMENT, request_only=True),
            OpenApiExample(
                "Approved",
                value={
                    **EXAMPLE_CHANGE,
                    "status": "approved",
                    "decided_by": "risk2",
                    "decided_at": "2026-11-20T15:20:00.000000Z",
                    "comment": EXAMPLE_COMMENT["comment"],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, change_id: int):
        return super().post(request, change_id)


class ConfigChangeRejectApi(_ConfigChangeDecisionApi):
    """Reject a pending change: nothing is applied. 403 and 409 as for approval."""

    approve = False

    @extend_schema(
        request=_ConfigChangeDecisionApi.InputSerializer,
        responses={200: ConfigChangeOutputSerializer},
        examples=[
            OpenApiExample(
                "Reject", value={"comment": "No collateral receipt on file."}, request_only=True
            ),
            OpenApiExample(
                "Rejected",
                value={
                    **EXAMPLE_CHANGE,
                    "status": "rejected",
                    "decided_by": "risk2",
                    "decided_at": "2026-11-20T15:20:00.000000Z",
                    "comment": "No collateral receipt on file.",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, change_id: int):
        return super().post(request, change_id)
