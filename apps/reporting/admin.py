"""Reports in the back office: read-only (files change only by generating a new version)."""

from django.contrib import admin
from django.utils.html import format_html

from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin
from apps.reporting.models import RegulatoryReport, Stor
from apps.reporting.selectors import CONFIDENTIAL_ROLE, CONFIDENTIAL_TYPES


@admin.register(RegulatoryReport)
class RegulatoryReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "report_type",
        "period_start",
        "period_end",
        "format",
        "version",
        "record_count",
        "status",
        "stale_since",
        "generated_at",
        "generated_by_name",
    ]
    list_filter = ["report_type", "format", "status", "regulatory_entity", "generated_at"]
    search_fields = ["=id", "sha256", "submission_reference", "file"]
    date_hierarchy = "generated_at"

    def get_queryset(self, request):
        # STORs never reach a Risk Manager, not even as a row (MAR art. 16: no tipping off)
        reports = super().get_queryset(request)
        if not has_role(request.user, CONFIDENTIAL_ROLE):
            reports = reports.exclude(report_type__in=CONFIDENTIAL_TYPES)
        return reports

    def get_fields(self, request, obj=None):
        # the file as a link to the checked download, never to the storage itself
        return ["download", *[f.name for f in self.model._meta.fields if f.name != "file"]]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="file")
    def download(self, obj) -> str:
        return format_html('<a href="/reports/{}/download/">{}</a>', obj.pk, obj.filename)


@admin.register(Stor)
class StorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """STORs are drafted, reviewed and filed on their pages and API (Compliance Officer)."""

    list_display = [
        "reference",
        "alert",
        "status",
        "breach_type",
        "regulatory_entity",
        "drafted_by",
        "reviewed_by",
        "created_at",
    ]
    list_filter = ["status", "breach_type", "regulatory_entity"]
    search_fields = ["reference", "=alert__id"]
    date_hierarchy = "created_at"
