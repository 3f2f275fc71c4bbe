"""Surveillance over HTTP: alerts and their cases (Compliance Officer and above: MAR forbids
tipping off, so Viewers and Traders see none of it), the false-positive rates, and the drop copy
of executions (posted by the Feed service identity only)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound, ValidationFailed, field_errors
from apps.core.fields import AmountField, TextOnlyField
from apps.core.serializers import StrictInputSerializer
from apps.rbac.roles import ServiceRole
from apps.surveillance import selectors
from apps.surveillance.filters import AlertFilter
from apps.surveillance.models import AlertStatus, Disposition
from apps.surveillance.services import (
    CASE_ROLE,
    COMMENT_MAX_LENGTH,
    alert_assign,
    alert_close,
    alert_comment,
    alert_status_set,
    execution_report_record,
)
from apps.trading.models import Side
from apps.trading.services import account_and_instrument_known

EXAMPLE_ALERT = {
    "id": 17,
    "detector": "wash_trade",
    "severity": "critical",
    "status": "open",
    "disposition": "",
    "account": "ACC-001",
    "instrument": "AAPL",
    "title": "Wash trade in AAPL: matched trades (same price and quantity) by the same account, "
    "1.200 s apart",
    "score": "1",
    "occurrences": 1,
    "evidence": {
        "orders": [4711, 4712],
        "fills": [902, 903],
        "executions": [],
        "details": {"owner": "Example Capital LLP", "matched": True, "seconds_apart": 1.2},
    },
    "window_start": "2026-11-20T15:04:05.000000Z",
    "window_end": "2026-11-20T15:04:06.200000Z",
    "assignee": None,
    "due_date": "2026-11-21",
    "created_at": "2026-11-20T15:04:16.000000Z",
    "closed_at": None,
    "closed_by": None,
    "reported_at": None,
    "report_reference": "",
}


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    detector = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    disposition = serializers.CharField()
    account = serializers.CharField(source="account.code", default=None, allow_null=True)
    instrument = serializers.CharField(source="instrument.symbol", default=None, allow_null=True)
    title = serializers.CharField()
    score = AmountField()
    occurrences = serializers.IntegerField()
    evidence = serializers.DictField(help_text="Order, fill and execution ids and the figures.")
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    assignee = serializers.CharField(source="assignee.username", default=None, allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", default=None, allow_null=True)
    reported_at = serializers.DateTimeField(
        allow_null=True, help_text="When a STOR of it was submitted to the regulator."
    )
    report_reference = serializers.CharField(
        help_text="The STOR's reference and the regulator's reference of its submission."
    )


class NoteSerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    author = serializers.CharField(source="author.username", default=None, allow_null=True)
    action = serializers.CharField()
    text = serializers.CharField()


class AlertDetailSerializer(AlertOutputSerializer):
    notes = NoteSerializer(many=True)


def _alert_or_404(request, alert_id: int):
    alert = selectors.alert_get(user=request.user, alert_id=alert_id)
    if alert is None:
        raise NotFound("No such alert.", code="alert_not_found")
    return alert


def _detail(request, alert_id: int) -> Response:
    alert = _alert_or_404(request, alert_id)
    return Response(AlertDetailSerializer(alert).data)


class AlertListApi(ListAPIView):
    """Alerts, newest first; filter by detector, severity, status, account, instrument."""

    required_role = CASE_ROLE
    filterset_class = AlertFilter
    serializer_class = AlertOutputSerializer

    def get_queryset(self):
        return selectors.alert_list(user=self.request.user).order_by("-created_at", "-id")


class AlertDetailApi(APIView):
    required_role = CASE_ROLE

    @extend_schema(
        responses={200: AlertDetailSerializer},
        examples=[
            OpenApiExample(
                "Open wash trade", value={**EXAMPLE_ALERT, "notes": []}, response_only=True
            )
        ],
    )
    def get(self, request, alert_id: int):
        return _detail(request, alert_id)


class AlertAssignApi(APIView):
    """Give the case to a Compliance Officer (`null` takes it off them)."""

    required_role = CASE_ROLE

    class InputSerializer(StrictInputSerializer):
        assignee = TextOnlyField(max_length=150, allow_null=True, help_text="A username, or null.")

    @extend_schema(
        request=InputSerializer,
        responses={200: AlertDetailSerializer},
        examples=[OpenApiExample("Assign", value={"assignee": "compliance"}, request_only=True)],
    )
    def post(self, request, alert_id: int):
        alert = _alert_or_404(request, alert_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["assignee"]
        assignee = None
        if name is not None:
            assignee = get_user_model().objects.filter(username=name, is_active=True).first()
            if assignee is None:
                raise ValidationFailed(details=field_errors(assignee="No such active user."))
        alert_assign(alert=alert, assignee=assignee, actor=request.user)
        return _detail(request, alert_id)


class AlertCommentApi(APIView):
    required_role = CASE_ROLE

    class InputSerializer(StrictInputSerializer):
        text = TextOnlyField(max_length=COMMENT_MAX_LENGTH)

    @extend_schema(
        request=InputSerializer,
        responses={201: AlertDetailSerializer},
        examples=[
            OpenApiExample(
                "Comment",
                value={"text": "Asked the desk head for the strategy's log."},
                request_only=True,
            )
        ],
    )
    def post(self, request, alert_id: int):
        alert = _alert_or_404(request, alert_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert_comment(alert=alert, text=serializer.validated_data["text"], actor=request.user)
        response = _detail(request, alert_id)
        response.status_code = status.HTTP_201_CREATED
        return response


class AlertStatusApi(APIView):
    """Move the case: `in_review`, `escalated`, back to `open`; a closed alert reopens to
    `in_review`. 409 for a move its status does not allow."""

    required_role = CASE_ROLE

    class InputSerializer(StrictInputSerializer):
        status = serializers.ChoiceField(
            choices=[s for s in AlertStatus.values if s != AlertStatus.CLOSED]
        )
        comment = TextOnlyField(max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={200: AlertDetailSerializer},
        examples=[
            OpenApiExample(
                "Escalate",
                value={"status": "escalated", "comment": "Pattern repeats across two owners."},
                request_only=True,
            )
        ],
    )
    def post(self, request, alert_id: int):
        alert = _alert_or_404(request, alert_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert_status_set(alert=alert, actor=request.user, **serializer.validated_data)
        return _detail(request, alert_id)


class AlertCloseApi(APIView):
    """Close the case with a disposition and why. 409 when it is already closed."""

    required_role = CASE_ROLE

    class InputSerializer(StrictInputSerializer):
        disposition = serializers.ChoiceField(choices=Disposition.choices)
        comment = TextOnlyField(max_length=COMMENT_MAX_LENGTH)

    @extend_schema(
        request=InputSerializer,
        responses={200: AlertDetailSerializer},
        examples=[
            OpenApiExample(
                "False positive",
                value={
                    "disposition": "false_positive",
                    "comment": "Two strategies of the desk crossed; no change of ownership "
                    "intended, both legs at market.",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, alert_id: int):
        alert = _alert_or_404(request, alert_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert_close(alert=alert, actor=request.user, **serializer.validated_data)
        return _detail(request, alert_id)


class FalsePositiveRateSerializer(serializers.Serializer):
    detector = serializers.CharField()
    label = serializers.CharField()
    open = serializers.IntegerField()
    closed = serializers.IntegerField()
    false_positive = serializers.IntegerField()
    rate = AmountField(allow_null=True, help_text="false_positive / closed; null if none closed.")


class FalsePositiveRatesApi(APIView):
    """Per detector: the share of closed alerts dispositioned false positive."""

    required_role = CASE_ROLE

    @extend_schema(responses={200: FalsePositiveRateSerializer(many=True)})
    def get(self, request):
        rows = selectors.false_positive_rates()
        return Response(FalsePositiveRateSerializer(rows, many=True).data)


class ExecutionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exec_id = serializers.CharField()
    account = serializers.CharField(source="account.code")
    instrument = serializers.CharField(source="instrument.symbol")
    client_order_id = serializers.CharField()
    order = serializers.IntegerField(source="order_id", allow_null=True)
    order_status = serializers.CharField(help_text="The matched order's status at receipt.")
    side = serializers.CharField()
    quantity = AmountField()
    price = AmountField()
    venue = serializers.CharField()
    executed_at = serializers.DateTimeField()
    reported_total = AmountField()
    received_at = serializers.DateTimeField()


class ExecutionListCreateApi(ListAPIView):
    """The drop copy: executions as the venue or broker reported them (GET: Compliance Officer
    and above; POST: the Feed service identity only, no person's role, so that nobody can
    post a fake execution that halts an account through surveillance). A POST is kept whatever
    it says and reconciled against the gate's decisions by the next surveillance run; 409 for
    an exec_id already recorded."""

    required_roles = {"GET": CASE_ROLE, "POST": ServiceRole.FEED}
    serializer_class = ExecutionOutputSerializer

    class InputSerializer(StrictInputSerializer):
        exec_id = serializers.CharField(max_length=64)
        account = serializers.CharField(max_length=32)
        instrument = serializers.CharField(max_length=32, help_text="Symbol or ISIN.")
        client_order_id = serializers.CharField(max_length=64)
        side = serializers.ChoiceField(choices=Side.choices)
        quantity = AmountField(positive=True)
        price = AmountField(positive=True)
        venue = serializers.RegexField(r"^[A-Z0-9]{4}$", max_length=4)
        executed_at = serializers.DateTimeField()

    def get_queryset(self):
        return selectors.execution_report_list().order_by("-received_at", "-id")

    @extend_schema(
        request=InputSerializer,
        responses={201: ExecutionOutputSerializer},
        examples=[
            OpenApiExample(
                "Drop copy",
                value={
                    "exec_id": "XNAS-20261120-000917",
                    "account": "ACC-001",
                    "instrument": "AAPL",
                    "client_order_id": "strat7-000123",
                    "side": "buy",
                    "quantity": "100",
                    "price": "189.47",
                    "venue": "XNAS",
                    "executed_at": "2026-11-20T15:04:06.200000Z",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account, instrument = account_and_instrument_known(
            data.pop("account"), data.pop("instrument")
        )
        report = execution_report_record(
            account=account, instrument=instrument, actor=request.user, **data
        )
        return Response(ExecutionOutputSerializer(report).data, status=status.HTTP_201_CREATED)
