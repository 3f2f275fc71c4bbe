"""Business days of an exchange calendar (exchange_calendars, as the gate's trading hours)."""

from datetime import date
from functools import lru_cache


@lru_cache(maxsize=16)
def _calendar(code: str):
    import exchange_calendars

    return exchange_calendars.get_calendar(code)


def is_business_day(code: str, day: date) -> bool:
    import pandas as pd

    return bool(_calendar(code).is_session(pd.Timestamp(day)))


def previous_business_day(code: str, day: date) -> date:
    """The last session of the calendar before `day`."""
    import pandas as pd

    before = pd.Timestamp(day) - pd.Timedelta(days=1)
    return _calendar(code).date_to_session(before, direction="previous").date()
