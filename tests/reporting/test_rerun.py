"""A fill booked after a report was built, in that report's period, marks the report for a re-run:
visible in the API and on the page, audited, cleared by the next version, re-run by the daily
schedule for its own reports. The desk is tests/reporting/factories.py (business day DAY)."""

import json
from datetime import date

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ValidationFailed
from apps.rbac.roles import Role
from apps.reporting.builders.daily_trading import DailyTradingBuilder
from apps.reporting.models import RegulatoryReport
from apps.reporting.services import report_generate
from apps.reporting.tasks import SCHEDULE, generate_daily
from apps.trading.models import Fill
from tests.reporting.factories import DAY, PREVIOUS, at, book_fill

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def build(officer, report_type="daily_trading", fmt="csv", day=DAY):
    return report_generate(
        report_type=report_type, period_start=day, period_end=day, fmt=fmt, actor=officer
    )


def late_fill(desk, executed_at, exec_id="LATE-1", **fields):
    """A fill the venue reports late: executed at `executed_at`, booked now."""
    return book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="101",
        executed_at=executed_at,
        exec_id=exec_id,
        **fields,
    )


def rerun_events(report) -> list[dict]:
    events = AuditEvent.objects.filter(event_type="REPORT_RERUN_NEEDED", object_id=str(report.pk))
    return [json.loads(e.record)["payload"] for e in events.order_by("seq")]


def test_a_late_fill_marks_the_reports_of_its_day(desk, officer, api_client_for):
    daily = build(officer)
    positions = build(officer, "positions")
    compliance = build(officer, "compliance")
    earlier = build(officer, day=PREVIOUS)
    fill = late_fill(desk, at(DAY, "17:30"))

    for report in (daily, positions):
        report.refresh_from_db()
        assert report.needs_rerun and report.stale_fills == 1
        [event] = rerun_events(report)
        assert event["exec_id"] == "LATE-1" and event["fill"] == fill.pk
        assert event["reason"] == "fill_booked_after_build" and event["late_fills"] == 1
    # The compliance report reads no fill; the day before is not the fill's day.
    for report in (compliance, earlier):
        report.refresh_from_db()
        assert not report.needs_rerun and rerun_events(report) == []

    viewer = api_client_for(Role.RISK_MANAGER)
    body = viewer.get(f"{REPORTS}{daily.pk}/").json()
    assert body["needs_rerun"] is True and body["stale_fills"] == 1
    assert body["stale_since"] is not None
    listed = viewer.get(REPORTS, {"needs_rerun": "true"}).json()["results"]
    assert {r["id"] for r in listed} == {daily.pk, positions.pk}
    fresh = viewer.get(REPORTS, {"needs_rerun": "false"}).json()["results"]
    assert {r["id"] for r in fresh} == {compliance.pk, earlier.pk}


def test_a_fill_of_the_day_before_changes_positions_carried_into_the_day(desk, officer):
    daily, positions = build(officer), build(officer, "positions")
    mifir = build(officer, "mifir_transactions", "xml")  # its short-sale flags read earlier fills
    late_fill(desk, at(PREVIOUS, "16:00"))
    daily.refresh_from_db(), positions.refresh_from_db(), mifir.refresh_from_db()
    assert not daily.needs_rerun
    assert positions.needs_rerun and mifir.needs_rerun


def test_fills_after_the_period_or_refused_mark_nothing(desk, officer):
    daily, positions = build(officer), build(officer, "positions")
    late_fill(desk, at(date(2026, 11, 23), "10:00"))  # the next business day
    with pytest.raises(ValidationFailed):
        late_fill(desk, at(DAY, "12:00"), exec_id="BAD", venue="ZZZZ")  # refused at the door
    for report in (daily, positions):
        report.refresh_from_db()
        assert not report.needs_rerun and report.stale_fills == 0
    assert not AuditEvent.objects.filter(event_type="REPORT_RERUN_NEEDED").exists()


def test_more_late_fills_count_up_and_keep_the_first_time(desk, officer):
    daily = build(officer)
    late_fill(desk, at(DAY, "17:30"))
    daily.refresh_from_db()
    first = daily.stale_since
    late_fill(desk, at(DAY, "17:45"), exec_id="LATE-2")
    daily.refresh_from_db()
    assert daily.stale_fills == 2 and daily.stale_since == first
    assert [e["late_fills"] for e in rerun_events(daily)] == [1, 2]


def test_the_next_version_is_the_rerun(desk, officer):
    first = build(officer)
    late_fill(desk, at(DAY, "17:30"))
    second = build(officer)
    first.refresh_from_db()
    assert second.version == 2 and second.record_count == first.record_count + 1
    assert not first.needs_rerun and not second.needs_rerun
    event = AuditEvent.objects.get(event_type="REPORT_GENERATED", object_id=str(second.pk))
    assert json.loads(event.record)["payload"]["rerun_of"] == [first.pk]
    # Another format of the same report is another file: still waiting for its own re-run.
    pdf = build(officer, fmt="pdf")
    late_fill(desk, at(DAY, "17:45"), exec_id="LATE-2")
    build(officer)
    pdf.refresh_from_db()
    assert pdf.needs_rerun


def test_a_fill_booked_while_the_report_is_built_marks_it(desk, officer, monkeypatch):
    fetch = DailyTradingBuilder.fetch

    def fetch_then_a_fill_arrives(self):
        yield from fetch(self)
        late_fill(desk, at(DAY, "17:30"))  # booked after the rows were read

    monkeypatch.setattr(DailyTradingBuilder, "fetch", fetch_then_a_fill_arrives)
    report = build(officer)
    report.refresh_from_db()
    assert report.needs_rerun and report.stale_fills == 1
    assert Fill.objects.filter(exec_id="LATE-1").exists()
    [event] = rerun_events(report)
    assert event["reason"] == "fills_booked_during_build"


def test_the_schedule_reruns_its_own_marked_reports(desk, officer):
    scheduled = generate_daily(reports=[["daily_trading", "csv"]], today="2026-11-23")
    by_hand = build(officer, "positions")
    late_fill(desk, at(DAY, "17:30"))
    # Saturday: nothing new to build, but the marked scheduled report is built again.
    rerun = generate_daily(reports=[["daily_trading", "csv"]], today="2026-11-28")
    [new] = RegulatoryReport.objects.filter(pk__in=rerun)
    assert (new.report_type, new.version, new.schedule) == ("daily_trading", 2, SCHEDULE)
    assert new.record_count == 6 and not new.needs_rerun
    assert not RegulatoryReport.objects.get(pk=scheduled[0]).needs_rerun
    # A report built by hand waits for its officer; the schedule leaves it alone.
    by_hand.refresh_from_db()
    assert by_hand.needs_rerun
    assert generate_daily(reports=[["daily_trading", "csv"]], today="2026-11-29") == []


def test_the_page_shows_what_needs_a_rerun(client, make_user, desk, officer):
    daily, positions = build(officer), build(officer, "positions", day=PREVIOUS)
    late_fill(desk, at(DAY, "17:30"))
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/reports/").content.decode()
    row = page[page.index(f'id="report-{daily.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Needs re-run" in row and "1 late fill since" in row
    other = page[page.index(f'id="report-{positions.pk}"') :]
    assert "Needs re-run" not in other[: other.index("</tr>")]
    filtered = client.get("/reports/", {"needs_rerun": "true"}).content.decode()
    assert f'id="report-{daily.pk}"' in filtered
    assert f'id="report-{positions.pk}"' not in filtered
