"""STORs over HTTP (Compliance Officer and above only; a Risk Manager, Trader or Viewer is
refused): draft one from an alert, edit the draft, send it for review, approve it or send it
back (a second officer). Approval exports its files as reports of type `stor`; they are filed
with `POST /api/v1/reports/{id}/status/`."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound, ValidationFailed, field_errors
from apps.core.fields import TextOnlyField
from apps.core.serializers import StrictInputSerializer
from apps.reporting import selectors
from apps.reporting.models import BreachType, StorStatus
from apps.reporting.stor import (
    APPROVE,
    LIST_ITEM_MAX,
    LIST_MAX_ITEMS,
    SEND_BACK,
    STOR_ROLE,
    TEXT_MAX,
    stor_draft,
    stor_review,
    stor_review_request,
    stor_update,
)
from apps.rules.models import RegulatoryEntity
from apps.surveillance.selectors import alert_get

EXAMPLE_STOR = {
    "id": 3,
    "reference": "STOR-2026-000003",
    "alert": 17,
    "status": "approved",
    "regulatory_entity": "FCA",
    "entity_name": "Example Securities Ltd",
    "entity_lei": "5493001KJTIIGC8Y1R12",
    "entity_country": "GB",
    "person_name": "Clara Compton",
    "person_position": "Compliance Officer",
    "person_contact": "compliance@example.com, +44 20 7946 0000",
    "instrument_description": "SAP (ISIN DE0007164600)",
    "transactions": [
        {
            "kind": "fill",
            "reference": "fill 902 (EX-902) of order 4711",
            "time": "2026-11-20T15:04:05.000000Z",
            "account": "ACC-001",
            "instrument": "SAP",
            "isin": "DE0007164600",
            "venue": "XETR",
            "side": "buy",
            "order_type": "limit",
            "quantity": "500",
            "price": "200",
            "currency": "EUR",
            "status": "active",
            "trader": "",
        }
    ],
    "breach_type": "market_manipulation",
    "suspicion_description": "The account bought and sold the same quantity at the same price "
    "1.2 s apart with no change in beneficial ownership.",
    "indicators": [
        "MAR Annex I A(c): transactions that lead to no change in beneficial ownership."
    ],
    "persons": [
        {"role": "client / account holder", "name": "Example Capital", "identifier": "ACC-001"}
    ],
    "persons_notes": "",
    "additional_information": "",
    "attachments": ["Order book snapshot 15:04:00-15:05:00"],
    "drafted_by": "compliance",
    "created_at": "2026-11-20T16:00:00.000000Z",
    "updated_at": "2026-11-21T09:00:00.000000Z",
    "review_requested_at": "2026-11-20T17:00:00.000000Z",
    "reviewed_by": "compliance2",
    "reviewed_at": "2026-11-21T09:00:00.000000Z",
    "review_comment": "",
    "pdf_report": 41,
    "file_report": 42,
    "filing_status": "draft",
}


class TransactionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    reference = serializers.CharField()
    time = serializers.CharField()
    account = serializers.CharField()
    instrument = serializers.CharField()
    isin = serializers.CharField()
    venue = serializers.CharField()
    side = serializers.CharField()
    order_type = serializers.CharField()
    quantity = serializers.CharField()
    price = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField()
    trader = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    role = serializers.CharField()
    name = serializers.CharField()
    identifier = serializers.CharField()


class StorOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    alert = serializers.IntegerField(source="alert_id")
    status = serializers.ChoiceField(choices=StorStatus.choices)
    regulatory_entity = serializers.CharField(
        source="regulatory_entity.code", default=None, allow_null=True
    )
    entity_name = serializers.CharField()
    entity_lei = serializers.CharField()
    entity_country = serializers.CharField()
    person_name = serializers.CharField()
    person_position = serializers.CharField()
    person_contact = serializers.CharField()
    instrument_description = serializers.CharField()
    transactions = TransactionSerializer(many=True)
    breach_type = serializers.ChoiceField(choices=BreachType.choices)
    suspicion_description = serializers.CharField()
    indicators = serializers.ListField(child=serializers.CharField())
    persons = PersonSerializer(many=True)
    persons_notes = serializers.CharField()
    additional_information = serializers.CharField()
    attachments = serializers.ListField(child=serializers.CharField())
    drafted_by = serializers.CharField(source="drafted_by.username")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    review_requested_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(
        source="reviewed_by.username", default=None, allow_null=True
    )
    reviewed_at = serializers.DateTimeField(allow_null=True)
    review_comment = serializers.CharField()
    pdf_report = serializers.IntegerField(source="pdf_report_id", allow_null=True)
    file_report = serializers.IntegerField(
        source="file_report_id", allow_null=True, help_text="The XML file (the one to file)."
    )
    filing_status = serializers.CharField(
        help_text="The reports' filing status once exported (draft, submitted, accepted, "
        "rejected); empty before approval."
    )


class EntityField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=RegulatoryEntity.objects.all(), **kwargs)


class NarrativeSerializer(StrictInputSerializer):
    """The fields the officer writes (all optional; sections 2 and 4 come from the evidence)."""

    regulatory_entity = EntityField(
        required=False, allow_null=True, help_text="The competent authority (its code)."
    )
    entity_name = TextOnlyField(max_length=200, required=False, allow_blank=True)
    entity_lei = TextOnlyField(max_length=20, required=False, allow_blank=True)
    entity_country = TextOnlyField(max_length=2, required=False, allow_blank=True)
    person_name = TextOnlyField(max_length=200, required=False, allow_blank=True)
    person_position = TextOnlyField(max_length=200, required=False, allow_blank=True)
    person_contact = TextOnlyField(max_length=200, required=False, allow_blank=True)
    instrument_description = TextOnlyField(max_length=300, required=False, allow_blank=True)
    breach_type = serializers.ChoiceField(choices=BreachType.choices, required=False)
    suspicion_description = TextOnlyField(max_length=TEXT_MAX, required=False, allow_blank=True)
    indicators = serializers.ListField(
        child=TextOnlyField(max_length=LIST_ITEM_MAX),
        max_length=LIST_MAX_ITEMS,
        required=False,
    )
    persons_notes = TextOnlyField(max_length=TEXT_MAX, required=False, allow_blank=True)
    additional_information = TextOnlyField(max_length=TEXT_MAX, required=False, allow_blank=True)
    attachments = serializers.ListField(
        child=TextOnlyField(max_length=LIST_ITEM_MAX),
        max_length=LIST_MAX_ITEMS,
        required=False,
        help_text="The documents the firm holds and sends on request (their descriptions).",
    )


def _stor_or_404(request, stor_id: int):
    stor = selectors.stor_get(user=request.user, stor_id=stor_id)
    if stor is None:
        raise NotFound("No such STOR.", code="stor_not_found")
    return stor


def _detail(request, stor_id: int, code=status.HTTP_200_OK) -> Response:
    return Response(StorOutputSerializer(_stor_or_404(request, stor_id)).data, status=code)


class StorListCreateApi(ListAPIView):
    """GET: STORs, newest first (`?status=`, `?alert=`). POST: draft one from an alert: the
    orders, fills and executions of its evidence and the persons behind them are attached; the
    narrative fields may be given now or later. An alert closed as false positive or duplicate
    (`alert_not_suspicious`) or one with a STOR in progress or filed (`stor_exists`) is a 409."""

    required_role = STOR_ROLE
    serializer_class = StorOutputSerializer

    class InputSerializer(NarrativeSerializer):
        alert = serializers.IntegerField(min_value=1)

    def get_queryset(self):
        stors = selectors.stor_list(user=self.request.user).order_by("-created_at", "-id")
        wanted = self.request.query_params.get("status")
        if wanted in StorStatus.values:
            stors = stors.filter(status=wanted)
        alert = self.request.query_params.get("alert", "")
        if alert.isascii() and alert.isdigit() and len(alert) <= 18:
            stors = stors.filter(alert_id=int(alert))
        return stors

    @extend_schema(
        request=InputSerializer,
        responses={201: StorOutputSerializer},
        examples=[
            OpenApiExample(
                "Draft from an alert",
                value={
                    "alert": 17,
                    "regulatory_entity": "FCA",
                    "suspicion_description": "Matched trades with no change in beneficial "
                    "ownership.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Drafted", value={**EXAMPLE_STOR, "status": "draft"}, response_only=True
            ),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        alert = alert_get(user=request.user, alert_id=data.pop("alert"))
        if alert is None:
            raise ValidationFailed(details=field_errors(alert="No such alert."))
        entity = data.pop("regulatory_entity", None)
        stor = stor_draft(alert=alert, actor=request.user, entity=entity, **data)
        return _detail(request, stor.pk, status.HTTP_201_CREATED)


class StorDetailApi(APIView):
    """GET: one STOR. PATCH: edit its narrative fields (its drafter, while it is a draft)."""

    required_role = STOR_ROLE

    @extend_schema(
        responses={200: StorOutputSerializer},
        examples=[OpenApiExample("STOR", value=EXAMPLE_STOR, response_only=True)],
    )
    def get(self, request, stor_id: int):
        return _detail(request, stor_id)

    @extend_schema(
        request=NarrativeSerializer,
        responses={200: StorOutputSerializer},
        examples=[
            OpenApiExample(
                "Edit",
                value={"breach_type": "attempted_market_manipulation", "attachments": []},
                request_only=True,
            )
        ],
    )
    def patch(self, request, stor_id: int):
        stor = _stor_or_404(request, stor_id)
        serializer = NarrativeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        entity = data.pop("regulatory_entity", ...)
        stor_update(stor=stor, actor=request.user, entity=entity, **data)
        return _detail(request, stor_id)


class StorReviewRequestApi(APIView):
    """The drafter sends the draft for review. A field the template needs that is empty is a
    400 (`stor_incomplete`, naming each); another officer's draft is a 403."""

    required_role = STOR_ROLE

    class InputSerializer(StrictInputSerializer):
        pass

    @extend_schema(request=InputSerializer, responses={200: StorOutputSerializer})
    def post(self, request, stor_id: int):
        stor = _stor_or_404(request, stor_id)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        stor_review_request(stor=stor, actor=request.user)
        return _detail(request, stor_id)


class StorReviewApi(APIView):
    """A second Compliance Officer approves the STOR (its PDF and XML files are exported as
    reports of type `stor`) or sends it back with a comment. The drafter is refused (403
    `four_eyes_required`)."""

    required_role = STOR_ROLE

    class InputSerializer(StrictInputSerializer):
        decision = serializers.ChoiceField(choices=[APPROVE, SEND_BACK])
        comment = TextOnlyField(max_length=TEXT_MAX, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={200: StorOutputSerializer},
        examples=[
            OpenApiExample("Approve", value={"decision": "approve"}, request_only=True),
            OpenApiExample(
                "Send back",
                value={"decision": "send_back", "comment": "Name the venue's order book data."},
                request_only=True,
            ),
            OpenApiExample("Approved", value=EXAMPLE_STOR, response_only=True),
        ],
    )
    def post(self, request, stor_id: int):
        stor = _stor_or_404(request, stor_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stor_review(stor=stor, actor=request.user, **serializer.validated_data)
        return _detail(request, stor_id)
