"""The monitor's runs and violations in the back office: read-only (the monitor writes them)."""

from django.contrib import admin

from apps.monitoring.models import MonitorRun, Violation
from apps.rbac.admin import ReadOnlyAdminMixin


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "rule_code",
        "subject",
        "severity",
        "status",
        "observed",
        "threshold",
        "unit",
        "first_seen",
        "last_seen",
        "resolved_at",
    ]
    list_filter = ["status", "severity", "rule_type"]
    search_fields = ["rule_code", "subject", "message"]
    date_hierarchy = "first_seen"


@admin.register(MonitorRun)
class MonitorRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "status",
        "duration_seconds",
        "rules_evaluated",
        "books",
        "violations_opened",
        "violations_resolved",
        "active_violations",
    ]
    list_filter = ["status"]
    date_hierarchy = "started_at"
