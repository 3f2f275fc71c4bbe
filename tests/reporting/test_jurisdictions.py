"""A report knows its regulator: the types made for an entity follow its jurisdiction, and the
reports page offers each type only in the formats it comes in. The blotter and order tickets
are scheduled with the daily reports."""

import json
import re
from datetime import date

import pytest
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.rbac.roles import Role
from apps.reporting.jurisdictions import (
    EU_UK_NCA,
    US_SECURITIES,
    jurisdiction_of_report,
    report_types_for,
)
from apps.reporting.models import RegulatoryReport, ReportType
from apps.reporting.tasks import SCHEDULE, generate_daily
from apps.rules.models import RegulatoryEntity
from tests.permissions import assert_page_role_required
from tests.reporting.factories import DAY
from tests.reporting.helpers import csv_rows

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"
PAGE = "/reports/"


@pytest.fixture
def entities(db):
    """The demo's regulators (apps/demo/rulebook.py)."""
    for code, jurisdiction, nca in (
        ("SEC", "United States", ""),
        ("FINRA", "United States", ""),
        ("CFTC", "United States", ""),
        ("ESMA", "European Union", ""),
        ("FCA", "United Kingdom", "GB"),
        ("BaFin", "Germany", "DE"),
    ):
        RegulatoryEntity.objects.create(
            code=code, name=code, jurisdiction=jurisdiction, nca_country=nca
        )
    return {e.code: e for e in RegulatoryEntity.objects.all()}


def body(report_type: str, entity: str, fmt: str = "csv") -> dict:
    return {
        "report_type": report_type,
        "period_start": str(DAY),
        "period_end": str(DAY),
        "format": fmt,
        "regulatory_entity": entity,
    }


def test_the_table_names_every_sec_style_report_and_the_mifir_ones():
    for report_type in ("cat_events", "blotter", "order_tickets", "blue_sheets", "rule_606"):
        assert jurisdiction_of_report(report_type) == US_SECURITIES
    assert jurisdiction_of_report("mifir_transactions") == EU_UK_NCA
    assert jurisdiction_of_report("daily_trading") == ""


def test_the_types_an_entity_receives(entities):
    every = list(ReportType.values)
    sec = report_types_for(entities["SEC"], every)
    assert "blotter" in sec and "order_tickets" in sec and "mifir_transactions" not in sec
    bafin = report_types_for(entities["BaFin"], every)
    assert "mifir_transactions" in bafin and "blotter" not in bafin
    esma = report_types_for(entities["ESMA"], every)
    assert "blotter" not in esma and "mifir_transactions" not in esma
    assert "daily_trading" in esma  # internal reports may name any regulator
    assert report_types_for(None, every) == every  # the firm's own copy


@pytest.mark.parametrize("entity", ["SEC", "FINRA"])
@pytest.mark.parametrize("report_type", ["blotter", "order_tickets"])
def test_sec_style_reports_are_made_for_the_sec_and_finra(
    api_client_for, desk, entities, entity, report_type
):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS, body(report_type, entity), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["regulatory_entity"] == entity


@pytest.mark.parametrize("entity", ["BaFin", "FCA", "ESMA", "CFTC"])
def test_a_sec_style_report_for_another_regulator_is_refused(
    api_client_for, desk, entities, entity
):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS, body("blotter", entity), format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "report_not_for_entity"
    assert f"{entity} does not receive blotter reports" in error["message"]
    assert "regulatory_entity" in error["details"]
    assert not RegulatoryReport.objects.exists()


def test_a_mifir_report_for_the_sec_keeps_its_refusal(api_client_for, desk, entities):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS, body("mifir_transactions", "SEC", "xml"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "entity_not_nca"
    assert not RegulatoryReport.objects.exists()


def test_the_us_regulators_are_a_setting(api_client_for, desk, entities, settings):
    settings.REPORTING_US_SECURITIES_REGULATORS = ["SEC"]
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    assert client.post(REPORTS, body("blotter", "FINRA"), format="json").status_code == 400
    assert client.post(REPORTS, body("blotter", "SEC"), format="json").status_code == 201


def test_the_form_offers_each_type_in_its_own_formats(client, make_user, desk, entities):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    page = client.get(PAGE).content.decode()
    for pair in ("blotter:csv", "blotter:pdf", "order_tickets:pdf", "mifir_transactions:xml"):
        assert f'value="{pair}"' in page
    for pair in ("blotter:xml", "order_tickets:xml", "positions:xml"):
        assert f'value="{pair}"' not in page
    assert "SEC (cat_events, blotter, order_tickets, blue_sheets, rule_606)" in page
    # CSP: no inline script or style
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "style=" not in page


def test_the_form_generates_a_pair_and_refuses_another_jurisdiction(
    client, make_user, desk, entities
):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    form = {"period_start": str(DAY), "period_end": str(DAY)}
    refused = client.post(PAGE, {**form, "report": "blotter:csv", "regulatory_entity": "BaFin"})
    assert refused.status_code == 400
    assert "BaFin does not receive blotter reports" in refused.content.decode()
    wrong_format = client.post(PAGE, {**form, "report": "blotter:xml"})
    assert wrong_format.status_code == 400
    assert "A blotter report comes as csv, json, pdf." in wrong_format.content.decode()
    assert not RegulatoryReport.objects.exists()
    done = client.post(PAGE, {**form, "report": "order_tickets:pdf", "regulatory_entity": "SEC"})
    assert done.status_code == 302
    report = RegulatoryReport.objects.get()
    assert (report.report_type, report.format) == ("order_tickets", "pdf")
    assert report.regulatory_entity.code == "SEC" and report.generated_by == officer


def test_the_page_needs_a_risk_manager(client, make_user):
    assert_page_role_required(client, make_user, PAGE, Role.RISK_MANAGER)


def test_a_risk_manager_cannot_generate_from_the_page(client, make_user, desk):
    client.force_login(make_user(Role.RISK_MANAGER))
    response = client.post(
        PAGE, {"report": "blotter:csv", "period_start": str(DAY), "period_end": str(DAY)}
    )
    assert response.status_code == 403
    assert not RegulatoryReport.objects.exists()


def test_beat_builds_the_blotter_and_order_tickets_of_the_previous_business_day(desk, make_user):
    wanted = [
        pair
        for pair in settings.PERIODIC_TASKS[SCHEDULE]["kwargs"]["reports"]
        if pair[0] in ("blotter", "order_tickets")
    ]
    assert wanted == [
        ["blotter", "csv"],
        ["blotter", "pdf"],
        ["order_tickets", "csv"],
        ["order_tickets", "pdf"],
    ]
    # Monday 2026-11-23 after the close: Friday's
    ids = generate_daily(reports=wanted, today="2026-11-23")
    reports = {(r.report_type, r.format): r for r in RegulatoryReport.objects.filter(pk__in=ids)}
    assert set(reports) == {tuple(pair) for pair in wanted}
    for report in reports.values():
        assert (report.period_start, report.period_end) == (DAY, DAY)
        assert report.schedule == SCHEDULE and report.generated_by is None
    assert reports[("blotter", "csv")].record_count == 5
    # the orders of Friday's five fills were entered on Friday (the one of Thursday's is not)
    tickets = csv_rows(reports[("order_tickets", "csv")], make_user())
    assert [int(t["order_id"]) for t in tickets] == [f.order_id for f in desk["fills"][1:]]
    assert generate_daily(reports=wanted, today="2026-11-23") == []  # once
    assert generate_daily(reports=wanted, today=str(date(2026, 11, 26))) == []  # Thanksgiving


def test_setup_schedules_writes_them_into_the_job(db):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    reports = json.loads(PeriodicTask.objects.get(name=SCHEDULE).kwargs)["reports"]
    for pair in (["blotter", "csv"], ["blotter", "pdf"], ["order_tickets", "pdf"]):
        assert pair in reports
