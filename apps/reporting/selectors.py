"""Reads of regulatory reports and STORs."""

from datetime import UTC, date, datetime, time

from django.conf import settings
from django.db.models import QuerySet

from apps.core.calendars import OutsideCalendar, previous_business_day
from apps.rbac.access import has_role
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport, ReportType, Stor
from apps.trading.models import Fill, FillStatus

# Reports never shown below Compliance Officer, not even as a line of the list: a STOR names
# the persons it suspects (MAR art. 16: no tipping off).
CONFIDENTIAL_TYPES = frozenset({ReportType.STOR})
CONFIDENTIAL_ROLE = Role.COMPLIANCE_OFFICER


def report_list(*, user) -> QuerySet[RegulatoryReport]:
    """The reports `user` may see, newest first: every one for a Compliance Officer and above,
    every one but the confidential types (STORs) for the others."""
    reports = RegulatoryReport.objects.select_related("generated_by", "regulatory_entity")
    if not has_role(user, CONFIDENTIAL_ROLE):
        reports = reports.exclude(report_type__in=CONFIDENTIAL_TYPES)
    return reports.order_by("-generated_at", "-id")


def report_get(*, user, report_id: int) -> RegulatoryReport | None:
    return report_list(user=user).filter(pk=report_id).first()


def stor_list(*, user) -> QuerySet[Stor]:
    """Every STOR for a Compliance Officer and above; nothing for anyone else."""
    if not has_role(user, CONFIDENTIAL_ROLE):
        return Stor.objects.none()
    return Stor.objects.select_related(
        "alert",
        "regulatory_entity",
        "drafted_by",
        "reviewed_by",
        "pdf_report",
        "file_report",
    )


def stor_get(*, user, stor_id: int) -> Stor | None:
    return stor_list(user=user).filter(pk=stor_id).first()


def last_trading_day(*, today: date) -> date:
    """The day a report form opens on: the last day before today with an execution (so that
    the report it builds has something in it), else the firm's last business day."""
    midnight = datetime.combine(today, time.min, tzinfo=UTC)
    last = (
        Fill.objects.filter(executed_at__lt=midnight, status=FillStatus.ACTIVE)
        .order_by("-executed_at")
        .values_list("executed_at", flat=True)
        .first()
    )
    if last is not None:
        return last.astimezone(UTC).date()
    try:
        return previous_business_day(settings.FIRM_REPORTING_CALENDAR, today)
    except OutsideCalendar:
        return date.fromordinal(today.toordinal() - 1)
