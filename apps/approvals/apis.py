"""Approval requests over HTTP: list and read (Viewer), approve and deny (Compliance Officer,
never the order's submitter)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.approvals import selectors
from apps.approvals.filters import ApprovalFilter
from apps.approvals.services import COMMENT_MAX_LENGTH, DECIDER_ROLE, Decision, approval_decide
from apps.core.errors import NotFound
from apps.core.fields import AmountField, TextOnlyField
from apps.core.serializers import StrictInputSerializer

EXAMPLE_APPROVAL = {
    "id": 31,
    "status": "approved",
    "order": {
        "id": 4711,
        "client_order_id": "strat7-000123",
        "account": "ACC-004",
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "1.6",
        "limit_price": "68750",
        "status": "accepted",
        "submitted_by": "trader",
    },
    "rules": [
        {
            "rule": "APPROVAL-1",
            "rule_type": "approval_threshold",
            "status": "fail",
            "observed": "110000",
            "threshold": "50000",
            "message": "Notional 110000 is above the approval threshold 50000.",
            "regulation": "FINRA 3110(b)",
            "code": "above_approval_threshold",
            "action": "hold",
        }
    ],
    "requested_at": "2026-11-20T15:04:05.123456Z",
    "expires_at": "2026-11-20T19:04:05.123456Z",
    "decided_by": "compliance",
    "decided_at": "2026-11-20T15:09:41.000000Z",
    "comment": "Client mandate allows it; desk head confirmed by phone.",
    "recheck": [],
}
EXAMPLE_COMMENT = {"comment": "Client mandate allows it; desk head confirmed by phone."}


class ApprovalOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    account = serializers.CharField(source="account.code")
    instrument = serializers.CharField(source="instrument.symbol")
    side = serializers.CharField()
    order_type = serializers.CharField()
    quantity = AmountField()
    limit_price = AmountField(allow_null=True)
    status = serializers.CharField()
    submitted_by = serializers.CharField(
        source="submitted_by.username", default=None, allow_null=True
    )


class ApprovalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    order = ApprovalOrderSerializer()
    rules = serializers.ListField(
        child=serializers.DictField(), help_text="The checks that held the order."
    )
    requested_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField()
    recheck = serializers.ListField(
        child=serializers.DictField(),
        help_text="The hard limits that failed when an approval was last refused ([] if none).",
    )


def _approval_or_404(request, approval_id: int):
    approval = selectors.approval_get(user=request.user, approval_id=approval_id)
    if approval is None:
        raise NotFound("No such approval request.", code="approval_not_found")
    return approval


class ApprovalListApi(ListAPIView):
    """Approval requests, newest first (filter by status, account, instrument, date)."""

    required_role = DECIDER_ROLE
    filterset_class = ApprovalFilter
    serializer_class = ApprovalOutputSerializer

    def get_queryset(self):
        return selectors.approval_list(user=self.request.user).order_by("-requested_at", "-id")


class ApprovalDetailApi(APIView):
    required_role = DECIDER_ROLE

    @extend_schema(
        responses={200: ApprovalOutputSerializer},
        examples=[OpenApiExample("Approved", value=EXAMPLE_APPROVAL, response_only=True)],
    )
    def get(self, request, approval_id: int):
        return Response(ApprovalOutputSerializer(_approval_or_404(request, approval_id)).data)


class _ApprovalDecisionApi(APIView):
    required_role = DECIDER_ROLE
    decision: Decision

    class InputSerializer(StrictInputSerializer):
        comment = TextOnlyField(max_length=COMMENT_MAX_LENGTH, help_text="Why; required.")

    def post(self, request, approval_id: int):
        approval = _approval_or_404(request, approval_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decided = approval_decide(
            approval=approval,
            actor=request.user,
            decision=self.decision,
            comment=serializer.validated_data["comment"],
        )
        return Response(ApprovalOutputSerializer(decided).data)  # as decided, with its order


class ApprovalApproveApi(_ApprovalDecisionApi):
    """Release the held order (it becomes accepted), after re-checking its hard limits.

    403 for a role below Compliance Officer and for the order's submitter (four-eyes); 409 when
    the request is already decided, expired or canceled, or when the re-check at decision time
    finds a hard limit breached (`approval_breaches_limit`, the failing checks in `details`;
    the request stays pending)."""

    decision = Decision.APPROVE

    @extend_schema(
        request=_ApprovalDecisionApi.InputSerializer,
        responses={200: ApprovalOutputSerializer},
        examples=[
            OpenApiExample("Approve", value=EXAMPLE_COMMENT, request_only=True),
            OpenApiExample("Approved", value=EXAMPLE_APPROVAL, response_only=True),
        ],
    )
    def post(self, request, approval_id: int):
        return super().post(request, approval_id)


class ApprovalDenyApi(_ApprovalDecisionApi):
    """Deny the held order (it becomes rejected).

    403 for a role below Compliance Officer and for the order's submitter (four-eyes); 409 when
    the request is already decided, expired or canceled."""

    decision = Decision.DENY

    @extend_schema(
        request=_ApprovalDecisionApi.InputSerializer,
        responses={200: ApprovalOutputSerializer},
        examples=[
            OpenApiExample(
                "Deny",
                value={"comment": "Concentration in one name is too high for this client."},
                request_only=True,
            ),
            OpenApiExample(
                "Denied",
                value={
                    **EXAMPLE_APPROVAL,
                    "status": "denied",
                    "order": {**EXAMPLE_APPROVAL["order"], "status": "rejected"},
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, approval_id: int):
        return super().post(request, approval_id)
