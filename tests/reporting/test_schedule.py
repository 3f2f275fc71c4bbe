"""The daily reports schedule: after the close of a business day, the previous business day's
reports; nothing on a day the exchange is closed. MiFIR transaction reports follow the firm's
reporting calendar instead (tests/reporting/test_mifir_life.py). Set up by `setup_schedules`,
idempotently."""

import json
from datetime import date

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.audit.models import AuditEvent
from apps.reporting.models import RegulatoryReport
from apps.reporting.tasks import SCHEDULE, generate_daily
from tests.reporting.factories import DAY
from tests.reporting.helpers import csv_rows

pytestmark = pytest.mark.django_db
REPORTS = [["daily_trading", "csv"], ["positions", "csv"], ["mifir_transactions", "xml"]]
NOT_MIFIR = REPORTS[:2]


def test_on_a_business_day_it_builds_the_previous_business_day(desk, make_user):
    # Monday 2026-11-23 after the close: Friday 2026-11-20's reports
    ids = generate_daily.delay(reports=NOT_MIFIR, today="2026-11-23").get()
    reports = RegulatoryReport.objects.filter(pk__in=ids).order_by("pk")
    assert [(r.report_type, r.format) for r in reports] == [tuple(r) for r in NOT_MIFIR]
    for report in reports:
        assert (report.period_start, report.period_end) == (DAY, DAY)
        assert report.generated_by is None and report.schedule == SCHEDULE
    daily = reports[0]
    assert daily.record_count == 5
    assert len(csv_rows(daily, make_user())) == 5
    event = AuditEvent.objects.get(event_type="REPORT_GENERATED", object_id=str(daily.pk))
    assert event.actor == "task:reporting.generate_daily"


def test_the_day_after_a_holiday_reports_the_business_day_before_it(desk):
    # Tuesday 2026-09-08: Monday was Labor Day (NYSE closed), so Friday 09-04
    ids = generate_daily(reports=[["daily_trading", "csv"]], today="2026-09-08")
    assert RegulatoryReport.objects.get(pk__in=ids).period_start == date(2026, 9, 4)


@pytest.mark.parametrize("today", ["2026-09-07", "2026-11-26", "2026-11-21", "2026-11-22"])
def test_a_holiday_or_weekend_builds_nothing(desk, today):
    # Labor Day, Thanksgiving, a Saturday, a Sunday
    assert generate_daily(reports=NOT_MIFIR, today=today) == []
    assert not RegulatoryReport.objects.exists()


def test_running_twice_builds_once(desk):
    first = generate_daily(reports=REPORTS, today="2026-11-23")
    assert generate_daily(reports=REPORTS, today="2026-11-23") == []
    assert RegulatoryReport.objects.count() == len(first)
    # Two for Friday, and MiFIR for each day of the catch-up window (2026-11-18 to 11-22) with
    # a reportable transaction: Thursday and Friday (Wednesday traded nothing: no file).
    mifir = RegulatoryReport.objects.filter(report_type="mifir_transactions")
    assert sorted(r.period_start.day for r in mifir) == [19, 20]
    assert len(first) == 4


def test_setup_schedules_writes_the_job_once(db):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    job = PeriodicTask.objects.get(name=SCHEDULE)
    assert job.task == "reporting.generate_daily"
    assert (job.crontab.hour, job.crontab.minute) == ("22", "15")
    assert ["mifir_transactions", "xml"] in json.loads(job.kwargs)["reports"]
    assert PeriodicTask.objects.filter(task="reporting.generate_daily").count() == 1


def test_a_bad_pair_in_the_schedule_does_not_stop_the_others(desk):
    ids = generate_daily(
        reports=[["positions", "xml"], ["daily_trading", "csv"]], today="2026-11-23"
    )
    assert [r.report_type for r in RegulatoryReport.objects.filter(pk__in=ids)] == ["daily_trading"]
