"""Exchange calendars: which calendar an instrument trades on, and what that calendar says.

One home for every question asked of `exchange_calendars`: the gate's trading hours, the
monitor's market minutes, surveillance's session closes and the reporting schedule's business
days. Calendars are built once per process (building one costs tens of milliseconds) and an
unknown code is answered as unknown (None, or nothing open), never as an error, except where
the caller names the calendar itself (the reporting schedule's setting).

`exchange_calendars`, pandas and NumPy are imported on first use: most processes never ask.
"""

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from apps.core.errors import ValidationFailed

if TYPE_CHECKING:
    import numpy as np

ALWAYS_OPEN = frozenset({"24/7"})  # exchange_calendars' round-the-clock calendar: no closes


def calendar_code(calendar: str, mic: str) -> str:
    """The calendar an instrument trades on: its own `calendar` when set (the exchange_calendars
    code), else its MIC (most MICs are calendar codes too)."""
    return calendar or mic


@lru_cache(maxsize=64)
def exchange_calendar(code: str):
    """The `exchange_calendars` calendar of a code, or None when the code names none."""
    import exchange_calendars

    try:
        return exchange_calendars.get_calendar(code)
    except Exception:  # noqa: BLE001 - an unknown calendar is reported as None
        return None


def _named(code: str):
    """The calendar of a code that must exist: the library's own error when it does not."""
    found = exchange_calendar(code)
    if found is None:
        import exchange_calendars

        return exchange_calendars.get_calendar(code)  # raises, naming the code
    return found


# --- trading hours (the gate, the monitor) ----------------------------------------------------


def market_is_open(code: str, when: datetime) -> bool | None:
    """True/False from the exchange calendar; None when the calendar is unknown. Answers are
    kept per calendar and minute: a calendar lookup costs about a millisecond, and the gate asks
    for every order."""
    minute = when.replace(second=0, microsecond=0)
    return _open_on_minute(code, minute)


@lru_cache(maxsize=1024)
def _open_on_minute(code: str, minute: datetime) -> bool | None:
    calendar = exchange_calendar(code)
    if calendar is None:
        return None
    import pandas as pd

    try:
        return bool(calendar.is_open_on_minute(pd.Timestamp(minute)))
    except Exception:  # noqa: BLE001 - outside the calendar's range: unknown
        return None


def open_minutes(code: str, start: datetime, end: datetime) -> "np.ndarray":
    """The minutes (epoch minutes, int64) in [start, end] when the calendar is open; none when
    the calendar is unknown or the range lies outside it."""
    import numpy as np

    calendar = exchange_calendar(code)
    if calendar is None:
        return np.zeros(0, dtype=np.int64)
    import pandas as pd

    try:
        minutes = calendar.minutes_in_range(
            pd.Timestamp(start).floor("min"), pd.Timestamp(end).floor("min")
        )
    except Exception:  # noqa: BLE001 - outside the calendar's range: nothing open
        return np.zeros(0, dtype=np.int64)
    if not minutes.size:
        return np.zeros(0, dtype=np.int64)
    return minutes.asi8 // 60_000_000_000


# --- session closes (surveillance) ------------------------------------------------------------


@lru_cache(maxsize=4096)
def closes_around(code: str, day: date) -> tuple[float, ...]:
    """Close times (epoch seconds) of the sessions from the day before to the day after; none
    for an unknown or round-the-clock calendar."""
    calendar = exchange_calendar(code)
    if calendar is None or calendar.name in ALWAYS_OPEN:
        return ()
    import pandas as pd

    start, end = pd.Timestamp(day - timedelta(days=1)), pd.Timestamp(day + timedelta(days=1))
    try:
        start = max(start, calendar.first_session)
        end = min(end, calendar.last_session)
        if start > end:
            return ()
        sessions = calendar.sessions_in_range(start, end)
        return tuple(calendar.session_close(s).timestamp() for s in sessions)
    except Exception:  # noqa: BLE001 - outside the calendar's range: no close known
        return ()


# --- the session an order works in (order expiry) ---------------------------------------------


def session_close_for_order(code: str, submitted_at: datetime) -> datetime:
    """When a `day` order sent at `submitted_at` expires: the close of the session it works in,
    that is the session open then, or else the next one (an order sent before the open, after
    the close or on a holiday works through the next session). Early closes come from the
    calendar (XNYS: 13:00 New York on the day after Thanksgiving).

    On the always-open "24/7" calendar there is no close: a day order there lives until the end
    of the UTC day it was sent in. An unknown calendar, or a time outside the calendar's range,
    is answered the same way, so that no day order works forever. Answers are kept per
    calendar and minute (the gate asks for every day order)."""
    minute = submitted_at.astimezone(UTC).replace(second=0, microsecond=0)
    close = _session_close_on_minute(code, minute)
    return close if close is not None else _end_of_utc_day(submitted_at)


def _end_of_utc_day(when: datetime) -> datetime:
    start = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


@lru_cache(maxsize=1024)
def _session_close_on_minute(code: str, minute: datetime) -> datetime | None:
    calendar = exchange_calendar(code)
    if calendar is None or calendar.name in ALWAYS_OPEN:
        return None
    import pandas as pd

    try:
        session = calendar.minute_to_session(pd.Timestamp(minute), direction="next")
        return calendar.session_close(session).to_pydatetime().astimezone(UTC)
    except Exception:  # noqa: BLE001 - outside the calendar's range: no close known
        return None


# --- business days (the reporting schedule) ---------------------------------------------------


class OutsideCalendar(ValidationFailed):
    """A day the exchange calendar does not cover (it starts some twenty years back): a client
    asking for one hears a 400, never the calendar library's own error."""

    code = "date_outside_calendar"


def _covered(code: str, day: date, *, days_before: int = 0):
    """The calendar and `day` as a pandas Timestamp, `day` (less `days_before`) checked to lie
    within the calendar's sessions."""
    import pandas as pd

    calendar = _named(code)
    try:
        stamp = pd.Timestamp(day)
        earliest = stamp - pd.Timedelta(days=days_before)
    except (ValueError, OverflowError):
        earliest = stamp = None
    if stamp is None or earliest < calendar.first_session or stamp > calendar.last_session:
        raise OutsideCalendar(
            f"{day} is outside the {code} calendar ({calendar.first_session.date()} to "
            f"{calendar.last_session.date()}).",
            details={
                "date": [
                    f"Between {calendar.first_session.date()} and {calendar.last_session.date()}."
                ]
            },
        )
    return calendar, stamp


def is_business_day(code: str, day: date) -> bool:
    calendar, stamp = _covered(code, day)
    return bool(calendar.is_session(stamp))


def previous_business_day(code: str, day: date) -> date:
    """The last session of the calendar before `day`."""
    import pandas as pd

    calendar, stamp = _covered(code, day, days_before=7)
    before = stamp - pd.Timedelta(days=1)
    return calendar.date_to_session(before, direction="previous").date()


def business_day_after(code: str, day: date, days: int) -> date | None:
    """The `days`-th session of the calendar after `day` (a settlement date: T+1 is the first
    session after the trade date); None when the code names no calendar or the date lies
    outside the calendar's range."""
    import pandas as pd

    calendar = exchange_calendar(code)
    if calendar is None:
        return None
    try:
        session = calendar.date_to_session(pd.Timestamp(day) + pd.Timedelta(days=1), "next")
        return calendar.session_offset(session, days - 1).date() if days > 1 else session.date()
    except Exception:  # noqa: BLE001 - out of the calendar's range: no session known
        return None
