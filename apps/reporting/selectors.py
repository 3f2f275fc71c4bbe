"""Reads of regulatory reports."""

from datetime import UTC, date, datetime, time

from django.conf import settings
from django.db.models import QuerySet

from apps.core.calendars import OutsideCalendar, previous_business_day
from apps.reporting.models import RegulatoryReport
from apps.trading.models import Fill, FillStatus


def report_list() -> QuerySet[RegulatoryReport]:
    """Every report (Viewers and above read them all), newest first."""
    return RegulatoryReport.objects.select_related("generated_by", "regulatory_entity").order_by(
        "-generated_at", "-id"
    )


def report_get(*, report_id: int) -> RegulatoryReport | None:
    return report_list().filter(pk=report_id).first()


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
