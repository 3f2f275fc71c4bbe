"""The close at which a day order expires: its venue's session, early closes and holidays
included; the round-the-clock calendar ends a day order with the UTC day."""

from datetime import UTC, datetime

import pytest

from apps.core.calendars import session_close_for_order


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "expires"),
    [
        # An ordinary Wednesday: 16:00 New York is 21:00 UTC in winter.
        ("2024-11-27 15:00", "2024-11-27 21:00"),
        # Summer time: 16:00 New York is 20:00 UTC.
        ("2024-07-10 14:00", "2024-07-10 20:00"),
        # The day after Thanksgiving closes early, at 13:00 New York (18:00 UTC).
        ("2024-11-29 15:00", "2024-11-29 18:00"),
        ("2024-11-29 17:59:59", "2024-11-29 18:00"),
        # Sent after that early close: it works through Monday's session.
        ("2024-11-29 18:30", "2024-12-02 21:00"),
        # Christmas Eve closes early too.
        ("2024-12-24 12:00", "2024-12-24 18:00"),
        # Before the open: that day's session.
        ("2024-11-27 08:00", "2024-11-27 21:00"),
        # A Saturday, and Thanksgiving itself (a holiday): the next session.
        ("2024-11-30 10:00", "2024-12-02 21:00"),
        ("2024-11-28 15:00", "2024-11-29 18:00"),
    ],
)
def test_a_day_order_on_xnys_expires_at_its_sessions_close(sent, expires):
    assert session_close_for_order("XNYS", at(sent)) == at(expires)


def test_another_venue_has_its_own_close():
    # Xetra closes at 17:30 Frankfurt, 16:30 UTC in winter.
    assert session_close_for_order("XETR", at("2024-11-27 10:00")) == at("2024-11-27 16:30")


def test_a_day_order_on_the_round_the_clock_calendar_ends_with_the_utc_day():
    assert session_close_for_order("24/7", at("2024-11-29 15:00")) == at("2024-11-30 00:00")
    assert session_close_for_order("24/7", at("2024-11-29 23:59:59")) == at("2024-11-30 00:00")
    assert session_close_for_order("24/7", at("2024-11-30 00:00")) == at("2024-12-01 00:00")


def test_an_unknown_calendar_still_ends_a_day_order_with_the_utc_day():
    assert session_close_for_order("NOPE", at("2024-11-29 15:00")) == at("2024-11-30 00:00")
    # Beyond the calendar's range: no close known, so the same bound.
    assert session_close_for_order("XNYS", at("2099-06-01 15:00")) == at("2099-06-02 00:00")


def test_a_time_given_in_another_zone_is_the_same_instant():
    from zoneinfo import ZoneInfo

    new_york = datetime(2024, 11, 29, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    assert session_close_for_order("XNYS", new_york) == at("2024-11-29 18:00")
