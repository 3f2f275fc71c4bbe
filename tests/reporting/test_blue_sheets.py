"""Blue sheets (SEC 17a-25): the trades of one symbol on request, with the customer record;
personal data for Compliance Officers only; bad requests store nothing."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from apps.trading.models import Account, Fill
from apps.trading.services import client_person_set, customer_record_set
from tests.permissions import assert_api_role_required
from tests.reporting.factories import DAY, PREVIOUS
from tests.reporting.helpers import content, csv_rows, json_body

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"
BODY = {
    "report_type": "blue_sheets",
    "period_start": str(PREVIOUS),
    "period_end": str(DAY),
    "format": "csv",
    "symbol": "AAPL",
    "request_reference": "SEC-EBS-2026-04417",
}
TAX_ID = "123-45-6789"


@pytest.fixture
def officer(api_client_for):
    return api_client_for(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def recorded(desk, make_user, settings):
    """The desk, with the customer record of ACC-T1's owner and its date of birth."""
    settings.EBS_BROKER_NUMBER = "0791"
    owner = desk["t1"].beneficial_owner
    Account.objects.filter(pk=desk["t1"].pk).update(large_trader_id="12345678-0001")
    customer_record_set(
        owner=owner,
        actor=make_user(Role.COMPLIANCE_OFFICER),
        legal_name="Harbour Lane Capital LLC",
        street="200 Liberty Street",
        city="New York",
        state="ny",
        postal_code="10281",
        country="us",
        tax_id=TAX_ID,
        tax_id_kind="SSN",
    )
    client_person_set(owner=owner, first_names="Ann", surnames="Lane", birth_date=date(1970, 5, 4))
    return desk


def requested(officer, **overrides) -> dict:
    response = officer.post(REPORTS, {**BODY, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_every_trade_in_the_symbol_with_the_customer_record(recorded, officer):
    body = requested(officer)
    report = RegulatoryReport.objects.get(pk=body["id"])
    assert body["parameters"] == {"symbol": "AAPL", "request_reference": "SEC-EBS-2026-04417"}
    assert report.parameters == body["parameters"]
    assert body["filename"] == f"blue_sheets_AAPL_{PREVIOUS}_{DAY}_v1.csv"
    rows = csv_rows(report, officer.user)
    stored = list(
        Fill.objects.filter(order__instrument__symbol="AAPL").order_by("executed_at", "id")
    )
    assert len(rows) == len(stored) == report.record_count == 4  # SAP's fills are not there
    assert [r["trade_number"] for r in rows] == [f.exec_id for f in stored]
    for row, fill in zip(rows, stored, strict=True):
        assert Decimal(row["quantity"]) == fill.quantity
        assert Decimal(row["trade_price"]) == fill.price
        assert row["exchange_code"] == fill.venue
        assert row["opposing_broker"] == fill.venue  # no counterparty LEI on these fills
        assert row["transaction_date"] == str(fill.executed_at.date())
        assert row["account_number"] == "ACC-T1"
        assert row["request_reference"] == "SEC-EBS-2026-04417"
        assert row["submitting_broker_number"] == row["executing_broker"] == "0791"
        assert row["symbol"] == "AAPL"
        assert row["cusip"] == "037833100"
        assert row["customer_name"] == "Harbour Lane Capital LLC"
        assert row["street"] == "200 Liberty Street"
        assert (row["state"], row["country"]) == ("NY", "US")
        assert row["tax_id"] == TAX_ID and row["tax_id_kind"] == "SSN"
        assert row["date_of_birth"] == "1970-05-04"
        assert row["large_trader_id"] == "12345678-0001"
        assert row["primary_party_identifier"] == f"BO-{recorded['t1'].beneficial_owner_id}"
        assert row["trading_capacity"] == "DEAL"
    assert [r["buy_sell_code"] for r in rows] == ["0", "0", "1", "1"]
    # buy 10 x 100 + commission 1; sale 4 x 110 - commission 0.5; in Eastern time (EST)
    assert [r["net_amount"] for r in rows[1:3]] == ["1001", "439.5"]
    assert [r["order_execution_time"] for r in rows] == ["100000", "093000", "100000", "110000"]


def test_the_stored_summary_and_the_trail_carry_no_personal_data(recorded, officer):
    body = requested(officer, format="json")
    report = RegulatoryReport.objects.get(pk=body["id"])
    data = json_body(report, officer.user)
    assert data["rows"][0]["tax_id"] == TAX_ID  # in the file, for the regulator
    assert data["summary"]["totals"]["Trades"] == 4
    stored = json.dumps(report.summary) + json.dumps(body)
    trail = "".join(e.record for e in AuditEvent.objects.all())
    for secret in (TAX_ID, "Liberty", "1970-05-04", "Harbour Lane"):
        assert secret not in stored
        assert secret not in trail


def test_an_account_without_a_customer_record_is_counted(desk, officer):
    body = requested(officer)
    rows = csv_rows(RegulatoryReport.objects.get(pk=body["id"]), officer.user)
    assert rows[0]["customer_name"] == desk["t1"].beneficial_owner.name
    assert rows[0]["tax_id"] == ""
    assert body["record_count"] == 4
    report = RegulatoryReport.objects.get(pk=body["id"])
    assert report.summary["totals"]["Accounts without a customer record"] == 1


def test_requesting_needs_a_compliance_officer(api_client_for, desk):
    assert_api_role_required(api_client_for, "post", REPORTS, Role.COMPLIANCE_OFFICER, BODY)


def test_downloading_needs_a_compliance_officer(api_client_for, recorded, officer):
    body = requested(officer)
    url = f"{REPORTS}{body['id']}/download/"
    assert_api_role_required(api_client_for, "get", url, Role.COMPLIANCE_OFFICER)
    risk = api_client_for(Role.RISK_MANAGER)
    assert risk.get(f"{REPORTS}{body['id']}/").status_code == 200  # the listing is not personal
    refused = risk.get(url)
    assert refused.status_code == 403
    assert TAX_ID not in refused.content.decode()


def test_the_download_page_refuses_a_risk_manager(client, make_user, recorded, officer):
    body = requested(officer)
    client.force_login(make_user(Role.RISK_MANAGER))
    response = client.get(f"/reports/{body['id']}/download/")
    assert response.status_code == 403
    assert TAX_ID not in response.content.decode()
    client.force_login(officer.user)
    served = client.get(f"/reports/{body['id']}/download/")
    assert served.status_code == 200
    assert TAX_ID in b"".join(served.streaming_content).decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"request_reference": ""}, "request_reference"),
        ({"request_reference": "R" * 65}, "request_reference"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_a_bad_request_is_a_400_that_stores_nothing(desk, officer, overrides, field):
    response = officer.post(REPORTS, {**BODY, **overrides}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["details"]
    assert not RegulatoryReport.objects.exists()
    assert not AuditEvent.objects.filter(event_type="REPORT_GENERATED").exists()


def test_a_range_past_the_retention_limit_is_refused(desk, officer, settings):
    settings.AUDIT_RETENTION_DAYS = {**settings.AUDIT_RETENTION_DAYS, "trading": 7 * 365}
    too_old = utcnow().date() - timedelta(days=7 * 365 + 1)
    response = officer.post(REPORTS, {**BODY, "period_start": str(too_old)}, format="json")
    assert response.status_code == 400
    assert "period_start" in response.json()["error"]["details"]
    settings.AUDIT_RETENTION_DAYS = {**settings.AUDIT_RETENTION_DAYS, "trading": 10}
    response = officer.post(REPORTS, BODY, format="json")
    assert response.status_code == 400
    assert "AUDIT_RETENTION_TRADING_DAYS" in str(response.json()["error"]["details"])
    assert not RegulatoryReport.objects.exists()


def test_a_blue_sheet_may_span_more_than_a_year_within_retention(desk, officer):
    start = utcnow().date() - timedelta(days=700)
    body = requested(officer, period_start=str(start))
    assert body["record_count"] == 4


def test_other_report_types_take_no_symbol(desk, officer):
    response = officer.post(
        REPORTS,
        {
            "report_type": "daily_trading",
            "period_start": str(DAY),
            "period_end": str(DAY),
            "format": "csv",
            "symbol": "AAPL",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "symbol" in response.json()["error"]["details"]
    assert not RegulatoryReport.objects.exists()


def test_a_second_request_is_the_next_version_with_its_own_reference(recorded, officer):
    first = requested(officer)
    second = requested(officer, request_reference="SEC-EBS-2026-04418")
    assert second["version"] == first["version"] + 1
    report = RegulatoryReport.objects.get(pk=second["id"])
    assert b"SEC-EBS-2026-04418" in content(report, officer.user)


def test_the_reports_page_requests_a_blue_sheet(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    form = dict(BODY)
    bad = client.post("/reports/", {**form, "symbol": "NOPE"})
    assert bad.status_code == 400
    assert "No instrument NOPE" in bad.content.decode()
    assert not RegulatoryReport.objects.exists()
    response = client.post("/reports/", form)
    assert response.status_code == 302
    report = RegulatoryReport.objects.get()
    assert report.parameters["request_reference"] == "SEC-EBS-2026-04417"
    assert report.record_count == 4
