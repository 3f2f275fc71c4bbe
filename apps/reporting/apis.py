"""Regulatory reports over HTTP: list and read (Viewer), generate and file (Compliance Officer),
download (Viewer; the file's SHA-256 is re-checked first)."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound
from apps.reporting import selectors
from apps.reporting.filters import ReportFilter
from apps.reporting.formats import CONTENT_TYPES
from apps.reporting.models import ReportFormat, ReportStatus, ReportType
from apps.reporting.services import (
    GENERATOR_ROLE,
    READER_ROLE,
    report_download_open,
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
    "status": "generated",
    "submission_reference": "",
    "regulator_response": "",
    "status_changed_at": None,
    "generated_by": "compliance",
    "schedule": "",
    "generated_at": "2026-11-21T07:02:11.412000Z",
    "needs_rerun": False,
    "stale_since": None,
    "stale_fills": 0,
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
        help_text="A fill was booked in the report's period after it was built: build it again."
    )
    stale_since = serializers.DateTimeField(allow_null=True)
    stale_fills = serializers.IntegerField(
        help_text="Fills booked in its period since it was built."
    )
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, report) -> str:
        return f"/api/v1/reports/{report.pk}/download/"


class EntityField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=RegulatoryEntity.objects.all(), **kwargs)


def _report_or_404(request, report_id: int):
    report = selectors.report_get(report_id=report_id)
    if report is None:
        raise NotFound("No such report.", code="report_not_found")
    return report


class ReportListCreateApi(ListAPIView):
    """GET: reports, newest first (filter by type, format, status, entity, period).
    POST: generate one now (Compliance Officer); a re-run makes a new version."""

    required_roles = {"GET": READER_ROLE, "POST": GENERATOR_ROLE}
    filterset_class = ReportFilter
    serializer_class = ReportOutputSerializer

    class InputSerializer(serializers.Serializer):
        report_type = serializers.ChoiceField(choices=ReportType.choices)
        period_start = serializers.DateField()
        period_end = serializers.DateField()
        format = serializers.ChoiceField(choices=ReportFormat.choices)
        regulatory_entity = EntityField(required=False, allow_null=True)

    def get_queryset(self):
        return selectors.report_list()

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
        )
        fresh = selectors.report_get(report_id=report.pk)
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
    """Record a filing step: `submitted` (with the regulator's reference), then `accepted` or
    `rejected` (with the regulator's response). 409 for a step out of order."""

    required_role = GENERATOR_ROLE

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=[s for s in ReportStatus.choices if s[0] != ReportStatus.GENERATED]
        )
        submission_reference = serializers.CharField(
            max_length=128, required=False, allow_blank=True, default=""
        )
        regulator_response = serializers.CharField(
            max_length=5000, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: ReportOutputSerializer},
        examples=[
            OpenApiExample(
                "Submitted",
                value={"status": "submitted", "submission_reference": "FCA-TR-2026-118823"},
                request_only=True,
            )
        ],
    )
    def post(self, request, report_id: int):
        report = _report_or_404(request, report_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report_status_set(report=report, actor=request.user, **serializer.validated_data)
        return Response(ReportOutputSerializer(_report_or_404(request, report_id)).data)
