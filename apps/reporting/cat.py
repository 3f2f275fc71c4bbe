"""FINRA CAT: the CAT trading day and which days the schedule owes a file.

A CAT trading day runs from 4:00 p.m. Eastern on the previous business day to 4:00 p.m. Eastern
on the day itself (CAT Reporting Technical Specifications for Industry Members 4.0.0 r18, the
CAT Trading Day): an event after the close, or on a weekend or holiday, belongs to the next
business day. Its file is due by 8:00 a.m. Eastern on the next business day.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.core.calendars import is_business_day, previous_business_day

EASTERN = ZoneInfo("America/New_York")
CUTOFF = time(16, 0)


def cat_day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of CAT trading day `day`: 4 p.m. ET of the business day before to 4 p.m.
    ET of `day`."""
    before = previous_business_day(settings.CAT_CALENDAR, day)
    return (
        datetime.combine(before, CUTOFF, tzinfo=EASTERN),
        datetime.combine(day, CUTOFF, tzinfo=EASTERN),
    )


def cat_day_of(when: datetime) -> date:
    """The CAT trading day an event at `when` belongs to."""
    local = when.astimezone(EASTERN)
    day = local.date()
    if local.time() >= CUTOFF:
        day += timedelta(days=1)
    while not is_business_day(settings.CAT_CALENDAR, day):
        day += timedelta(days=1)
    return day


def cat_days_due(now: datetime) -> list[date]:
    """The CAT trading days that have ended by `now`, back `CAT_CATCH_UP_DAYS` calendar days,
    oldest first (the schedule builds those it has not built yet)."""
    local = now.astimezone(EASTERN)
    days = []
    for back in range(max(1, settings.CAT_CATCH_UP_DAYS), -1, -1):
        day = local.date() - timedelta(days=back)
        if is_business_day(settings.CAT_CALENDAR, day) and cat_day_window(day)[1] <= local:
            days.append(day)
    return days


def cat_timestamp(when: datetime) -> str:
    """A CAT timestamp in Eastern time to the microsecond: `YYYYMMDD HHMMSS.CCCNNN`."""
    return when.astimezone(EASTERN).strftime("%Y%m%d %H%M%S.%f")
