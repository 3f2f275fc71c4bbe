from celery import shared_task
from django.conf import settings

from apps.core.context import acting_as_system
from apps.core.time import utcnow
from apps.reporting.services import reports_daily_generate

SCHEDULE = "daily reports"


@shared_task(
    name="reporting.generate_daily", time_limit=3600, soft_time_limit=3300, ignore_result=True
)
def generate_daily(reports: list[list[str]] | None = None, today: str | None = None) -> list[int]:
    """After the close: on a business day, the previous business day's reports (beat)."""
    from datetime import date

    day = date.fromisoformat(today) if today else utcnow().date()
    wanted = (
        reports if reports is not None else settings.PERIODIC_TASKS[SCHEDULE]["kwargs"]["reports"]
    )
    with acting_as_system("task:reporting.generate_daily"):
        built = reports_daily_generate(
            today=day,
            reports=[tuple(r) for r in wanted],
            schedule=SCHEDULE,
            calendar_code=settings.REPORTING_CALENDAR,
        )
    return [report.pk for report in built]


CAT_SCHEDULE = "cat events"


@shared_task(
    name="reporting.generate_cat_events",
    time_limit=3600,
    soft_time_limit=3300,
    ignore_result=True,
)
def generate_cat_events(now: str | None = None) -> list[int]:
    """Before 8 a.m. Eastern: the CAT file of every CAT trading day that has ended and that
    this schedule has not built (beat)."""
    from datetime import datetime

    from apps.reporting.services import cat_events_due_generate

    when = datetime.fromisoformat(now) if now else utcnow()
    with acting_as_system("task:reporting.generate_cat_events"):
        built = cat_events_due_generate(now=when, schedule=CAT_SCHEDULE)
    return [report.pk for report in built]
