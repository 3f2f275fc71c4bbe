"""Regulatory reports over HTTP: list and read (Viewer), generate and file (Compliance Officer),
download (Viewer; the file's SHA-256 is re-checked first)."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound, ValidationFailed
from apps.core.serializers import StrictInputSerializer
from apps.reporting import selectors
from apps.reporting.filters import ReportFilter
from apps.reporting.formats import CONTENT_TYPES
from apps.reporting.lifecycle import FEEDBACK_MAX_BYTES
from apps.reporting.models import (
    FeedbackStatus,
    ReportedTransaction,
    ReportFormat,
    ReportStatus,
    ReportType,
    TransactionAction,
)
from apps.reporting.services import (
    GENERATOR_ROLE,
    READER_ROLE,
    report_download_open,
    report_feedback_import,
    report_generate,
    report_status_set,
)
from apps.rules.models import RegulatoryEntity

EXAMPLE_REPORT = {
    "id": 12,
    "report_type": "daily_trading",
    "regulatory_entity": None,
    "period_start": "2026-11-20",
    "period_end": "2026-11-20",
    "format": "csv",
    "version": 1,
    "filename": "daily_trading_2026-11-20_v1.csv",
    "sha256": "9f2c4e0d6a1b3c5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
    "size": 48213,
    "record_count": 311,
    "status": "draft",
    "submission_reference": "",
    "regulator_response": "",
    "status_changed_at": None,
    "generated_by": "compliance",
    "schedule": "",
    "generated_at": "2026-11-21T07:02:11.412000Z",
    "needs_rerun": False,
    "stale_since": None,
    "stale_fills": 0,
    "parameters": {},
    "download_url": "/api/v1/reports/12/download/",
}


class ReportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    report_type = serializers.CharField()
    regulatory_entity = serializers.CharField(
        source="regulatory_entity.code", default=None, allow_null=True
    )
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    format = serializers.CharField()
    version = serializers.IntegerField()
    filename = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    record_count = serializers.IntegerField()
    status = serializers.CharField()
    submission_reference = serializers.CharField()
    regulator_response = serializers.CharField()
    status_changed_at = serializers.DateTimeField(allow_null=True)
    generated_by = serializers.CharField(
        source="generated_by.username", default=None, allow_null=True
    )
    schedule = serializers.CharField()
    generated_at = serializers.DateTimeField()
    needs_rerun = serializers.BooleanField(
        help_text="A fill was booked, corrected or busted in the report's period after it was "
        "built: build it again."
    )
    stale_since = serializers.DateTimeField(allow_null=True)
    stale_fills = serializers.IntegerField(
        help_text="Fills booked in its period since it was built."
    )
    parameters = serializers.DictField(
        child=serializers.CharField(),
        help_text="What a report on request was asked for (blue sheets: `symbol` and "
        "`request_reference`); empty for the others.",
    )
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, report) -> str:
        return f"/api/v1/reports/{report.pk}/download/"


class EntityField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=RegulatoryEntity.objects.all(), **kwargs)


def _report_or_404(request, report_id: int):
    report = selectors.report_get(user=request.user, report_id=report_id)
    if report is None:
        raise NotFound("No such report.", code="report_not_found")
    return report


class ReportListCreateApi(ListAPIView):
    """GET: reports, newest first (filter by type, format, status, entity, period).
    POST: generate one now (Compliance Officer); a re-run makes a new version. A MiFIR report
    is refused with a 400 and nothing stored when the firm's LEI is invalid
    (`firm_lei_invalid`), the entity is not a national competent authority (`entity_not_nca`),
    a transaction cannot be identified as RTS 22 wants (`mifir_report_invalid`, every problem
    in `details.problems`) or the file fails ESMA's schemas (`mifir_schema_invalid`). A report
    of one jurisdiction's type for an entity of another is refused (`report_not_for_entity`).
    Blue sheets are asked for with `symbol` and `request_reference` (the regulator's reference
    of the request); an unknown symbol or a `period_start` before the trading records'
    retention is a 400 and nothing is stored. Other types take neither field. A CAT
    file (`cat_events`, json) covers one ended CAT trading day (else 400) and is refused with a
    409 and nothing stored without `CAT_REPORTER_IMID` (`cat_reporter_imid_missing`), for a day
    with no reportable event (`cat_nothing_to_report`) or whose every event belongs to an
    account without its CAT identifiers (`cat_identifiers_missing`, naming them)."""

    required_roles = {"GET": READER_ROLE, "POST": GENERATOR_ROLE}
    filterset_class = ReportFilter
    serializer_class = ReportOutputSerializer

    class InputSerializer(StrictInputSerializer):
        report_type = serializers.ChoiceField(choices=ReportType.choices)
        period_start = serializers.DateField()
        period_end = serializers.DateField()
        format = serializers.ChoiceField(choices=ReportFormat.choices)
        regulatory_entity = EntityField(required=False, allow_null=True)
        symbol = serializers.CharField(
            max_length=32,
            required=False,
            help_text="Blue sheets: the symbol the regulator asks about.",
        )
        request_reference = serializers.CharField(
            max_length=64,
            required=False,
            help_text="Blue sheets: the regulator's reference of the request.",
        )

    def get_queryset(self):
        return selectors.report_list(user=self.request.user)

    @extend_schema(
        request=InputSerializer,
        responses={201: ReportOutputSerializer},
        examples=[
            OpenApiExample(
                "Daily trading CSV",
                value={
                    "report_type": "daily_trading",
                    "period_start": "2026-11-20",
                    "period_end": "2026-11-20",
                    "format": "csv",
                },
                request_only=True,
            ),
            OpenApiExample(
                "MiFIR transactions for BaFin",
                value={
                    "report_type": "mifir_transactions",
                    "period_start": "2026-11-20",
                    "period_end": "2026-11-20",
                    "format": "xml",
                    "regulatory_entity": "BaFin",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Purchase and sales blotter for FINRA",
                value={
                    "report_type": "blotter",
                    "period_start": "2026-11-20",
                    "period_end": "2026-11-20",
                    "format": "pdf",
                    "regulatory_entity": "FINRA",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Blue sheets on request",
                value={
                    "report_type": "blue_sheets",
                    "period_start": "2026-11-02",
                    "period_end": "2026-11-20",
                    "format": "csv",
                    "symbol": "AAPL",
                    "request_reference": "SEC-EBS-2026-04417",
                    "regulatory_entity": "SEC",
                },
                request_only=True,
            ),
            OpenApiExample(
                "FINRA CAT order events",
                value={
                    "report_type": "cat_events",
                    "period_start": "2026-11-20",
                    "period_end": "2026-11-20",
                    "format": "json",
                    "regulatory_entity": "FINRA",
                },
                request_only=True,
            ),
            OpenApiExample("Generated", value=EXAMPLE_REPORT, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = report_generate(
            report_type=data["report_type"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            fmt=data["format"],
            entity=data.get("regulatory_entity"),
            actor=request.user,
            parameters={
                name: data[name] for name in ("symbol", "request_reference") if name in data
            },
        )
        fresh = selectors.report_get(user=request.user, report_id=report.pk)
        return Response(ReportOutputSerializer(fresh).data, status=status.HTTP_201_CREATED)


class ReportDetailApi(APIView):
    required_role = READER_ROLE

    @extend_schema(
        responses={200: ReportOutputSerializer},
        examples=[OpenApiExample("Report", value=EXAMPLE_REPORT, response_only=True)],
    )
    def get(self, request, report_id: int):
        return Response(ReportOutputSerializer(_report_or_404(request, report_id)).data)


def report_file_response(report, handle) -> FileResponse:
    """The verified copy as an attachment, with its SHA-256 in a header."""
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=report.filename,
        content_type=CONTENT_TYPES[report.format],
    )
    response["Content-Length"] = str(report.size)
    response["X-Content-SHA256"] = report.sha256
    return response


class ReportDownloadApi(APIView):
    """The report's file, after its SHA-256 is checked against the one recorded when it was
    generated (header `X-Content-SHA256`). A mismatch or a missing file is a 409
    (`report_integrity_failed`) and raises a critical alert to compliance staff."""

    required_role = READER_ROLE

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (CSV, JSON, XML or PDF)."
            )
        }
    )
    def get(self, request, report_id: int):
        report = _report_or_404(request, report_id)
        handle = report_download_open(report=report, actor=request.user)
        return report_file_response(report, handle)


class ReportStatusApi(APIView):
    """Record a filing step: `draft -> submitted -> accepted | rejected`. `note` carries the
    regulator's reference of a submission (required then) and its response to an acceptance
    or rejection. A step out of order is a 400 (`invalid_transition`); submitting a MiFIR
    report built before another of its period was filed is a 409 (`report_outdated`)."""

    required_role = GENERATOR_ROLE

    class InputSerializer(StrictInputSerializer):
        status = serializers.ChoiceField(
            choices=[s for s in ReportStatus.choices if s[0] != ReportStatus.DRAFT]
        )
        note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
        submission_reference = serializers.CharField(
            max_length=128,
            required=False,
            allow_blank=True,
            default="",
            help_text="The regulator's reference of a submission (else taken from `note`).",
        )
        regulator_response = serializers.CharField(
            max_length=5000,
            required=False,
            allow_blank=True,
            default="",
            help_text="The regulator's response (else taken from `note`).",
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: ReportOutputSerializer},
        examples=[
            OpenApiExample(
                "Submitted",
                value={"status": "submitted", "note": "FCA-TR-2026-118823"},
                request_only=True,
            ),
            OpenApiExample(
                "Rejected",
                value={"status": "rejected", "note": "File rejected: CON-023 schema error"},
                request_only=True,
            ),
            OpenApiExample(
                "Submitted report",
                value={
                    **EXAMPLE_REPORT,
                    "report_type": "mifir_transactions",
                    "format": "xml",
                    "filename": "mifir_transactions_2026-11-20_v1.xml",
                    "status": "submitted",
                    "submission_reference": "FCA-TR-2026-118823",
                    "status_changed_at": "2026-11-21T08:30:02.004000Z",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, report_id: int):
        report = _report_or_404(request, report_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report_status_set(report=report, actor=request.user, **serializer.validated_data)
        return Response(ReportOutputSerializer(_report_or_404(request, report_id)).data)


EXAMPLE_TRANSACTION = {
    "reference": "FQ7ZK3M2WJ5TX4C6B2NRLA7YDV2",
    "action": "NEWT",
    "fill_id": 8812,
    "version": 2,
    "trade_date": "2026-11-20",
    "feedback_status": "RJCT",
    "feedback_code": "CON-412",
    "feedback_message": "Price outside the instrument's daily range",
}


class ReportedTransactionSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="Transaction reference (RTS 22 field 2).")
    action = serializers.ChoiceField(choices=TransactionAction.choices)
    fill_id = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField()
    trade_date = serializers.DateField()
    feedback_status = serializers.ChoiceField(
        choices=FeedbackStatus.choices, help_text="ACPT, RJCT, or empty before feedback."
    )
    feedback_code = serializers.CharField()
    feedback_message = serializers.CharField()


class ReportTransactionListApi(ListAPIView):
    """The transaction lines a MiFIR report carries (New and Cxl) with the regulator's feedback
    on each; `?feedback_status=RJCT` lists the rejected ones."""

    required_role = READER_ROLE
    serializer_class = ReportedTransactionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return ReportedTransaction.objects.none()
        report = _report_or_404(self.request, self.kwargs["report_id"])
        lines = report.transactions.order_by("id")
        wanted = self.request.query_params.get("feedback_status")
        if wanted in FeedbackStatus.values:
            lines = lines.filter(feedback_status=wanted)
        return lines

    @extend_schema(
        examples=[OpenApiExample("A rejected New", value=EXAMPLE_TRANSACTION, response_only=True)]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReportFeedbackOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    report = serializers.IntegerField(source="report_id")
    filename = serializers.CharField()
    sha256 = serializers.CharField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    imported_by = serializers.CharField(source="imported_by.username")
    imported_at = serializers.DateTimeField()
    report_status = serializers.CharField(source="report.status")


class ReportFeedbackApi(APIView):
    """Import the regulator's feedback file on a filed MiFIR report (multipart field `file`):
    CSV with the header `transaction_reference,status,error_code,error_message`, status `ACPT`
    or `RJCT` (docs/reporting.md). Rejected transactions are reported again by the next build
    of their day. Not a feedback file, or a reference the report does not carry: 400
    (`invalid_feedback_file`), nothing stored."""

    required_role = GENERATOR_ROLE
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        file = serializers.FileField()

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={201: ReportFeedbackOutputSerializer},
        examples=[
            OpenApiExample(
                "Imported",
                value={
                    "id": 3,
                    "report": 12,
                    "filename": "FCA_feedback_2026-11-21.csv",
                    "sha256": "5d0c4c1e2f0b4a8e9c7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e",
                    "accepted": 220,
                    "rejected": 1,
                    "imported_by": "compliance",
                    "imported_at": "2026-11-21T09:02:13.551000Z",
                    "report_status": "accepted",
                },
                response_only=True,
            )
        ],
    )
    def post(self, request, report_id: int):
        report = _report_or_404(request, report_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > FEEDBACK_MAX_BYTES:
            raise ValidationFailed(
                "Not a feedback file (docs/reporting.md).",
                code="invalid_feedback_file",
                details={"file": [f"Larger than {FEEDBACK_MAX_BYTES} bytes."]},
            )
        feedback = report_feedback_import(
            report=report, actor=request.user, raw=upload.read(), filename=upload.name
        )
        feedback.refresh_from_db()
        return Response(
            ReportFeedbackOutputSerializer(feedback).data, status=status.HTTP_201_CREATED
        )
