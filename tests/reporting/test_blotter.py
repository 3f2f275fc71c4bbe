"""The purchase and sales blotter (SEC 17a-3(a)(1)) on the desk's known day
(tests/reporting/factories.py): every active fill of 2026-11-20, busted ones out, corrected ones
as corrected, with settlement dates on the instrument's calendar."""

import hashlib
import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from apps.trading.models import Fill, FillStatus
from apps.trading.services import fill_bust, fill_correct
from tests.permissions import assert_api_role_required
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows, json_body
from tests.trading.factories import AccountFactory

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"
BODY = {"report_type": "blotter", "period_start": str(DAY), "period_end": str(DAY)}


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def blotter(officer, fmt="csv"):
    return report_generate(
        report_type="blotter", period_start=DAY, period_end=DAY, fmt=fmt, actor=officer
    )


def test_every_purchase_and_sale_of_the_day_against_the_stored_fills(desk, officer):
    report = blotter(officer)
    rows = csv_rows(report, officer)
    day_fills = list(
        Fill.objects.filter(executed_at__date=DAY, status=FillStatus.ACTIVE)
        .select_related("order__account", "order__instrument")
        .order_by("executed_at", "id")
    )
    assert report.record_count == len(rows) == len(day_fills) == 5
    for row, fill in zip(rows, day_fills, strict=True):
        order = fill.order
        assert row["exec_id"] == fill.exec_id
        assert row["order_id"] == str(order.pk)
        assert row["client_order_id"] == order.client_order_id
        assert row["account"] == order.account.code
        assert row["account_name"] == order.account.name
        assert row["symbol"] == order.instrument.symbol
        assert row["trade_date"] == "2026-11-20"
        assert Decimal(row["quantity"]) == fill.quantity
        assert Decimal(row["price"]) == fill.price
        assert Decimal(row["commission"]) == fill.commission
        gross = fill.quantity * fill.price * order.instrument.multiplier
        assert Decimal(row["gross_amount"]) == gross
        buy = order.side == "buy"
        assert row["buy_sell"] == ("buy" if buy else "sell")
        net = gross + fill.commission if buy else gross - fill.commission
        assert Decimal(row["net_amount"]) == net
        assert row["venue"] == fill.venue
        assert row["fill_version"] == "1" and row["corrected"] == "false"
    first = rows[0]  # SAP bought on XETR for the client ACC-T2 (AOTC)
    assert first["trade_time"] == "2026-11-20T10:00:00.000000Z"
    assert first["capacity"] == "agency"
    assert first["gross_amount"] == "1000" and first["net_amount"] == "1002"
    # Frankfurt settles T+2 on its own calendar: Friday -> Tuesday
    assert first["settlement_date"] == "2026-11-24" and first["currency"] == "EUR"
    aapl = rows[2]  # AAPL bought on XNAS for the firm's own book (DEAL)
    assert aapl["capacity"] == "principal" and aapl["short_marking"] == ""
    # US equities settle T+1 (since May 2024): Friday -> Monday
    assert aapl["settlement_date"] == "2026-11-23"
    sale = rows[3]
    assert sale["buy_sell"] == "sell" and sale["short_marking"] == "long"
    assert sale["gross_amount"] == "440" and sale["net_amount"] == "439.5"


def test_settlement_skips_the_holiday_and_short_sales_are_marked(desk, officer):
    # Wednesday 2026-11-25: T+1 on the NYSE calendar skips Thanksgiving (11-26)
    matched = AccountFactory(code="ACC-M1", trading_capacity="MTCH")
    book_fill(
        account=matched,
        instrument=desk["sap"],
        side="sell_short",
        quantity="2",
        price="200",
        executed_at=at(date(2026, 11, 25), "10:00"),
        venue="XETR",
    )
    book_fill(account=desk["t1"], instrument=desk["aapl"], side="buy", quantity="1",
              price="100", executed_at=at(date(2026, 11, 25), "15:00"))  # fmt: skip
    report = report_generate(
        report_type="blotter",
        period_start=date(2026, 11, 25),
        period_end=date(2026, 11, 25),
        fmt="csv",
        actor=officer,
    )
    short, bought = csv_rows(report, officer)
    assert short["capacity"] == "riskless_principal"
    assert short["buy_sell"] == "sell" and short["short_marking"] == "short"
    assert short["settlement_date"] == "2026-11-27"  # XETR: Thursday, Friday
    assert bought["settlement_date"] == "2026-11-27"  # NYSE: Friday, Thursday closed


def test_a_busted_fill_is_left_out_and_a_corrected_one_shows_as_corrected(desk, officer):
    fills = desk["fills"]
    fill_bust(fill=fills[4], reason="erroneous print", actor=officer)
    fill_correct(fill=fills[3], quantity="9", price="99", reason="venue correction", actor=officer)
    rows = {row["exec_id"]: row for row in csv_rows(blotter(officer), officer)}
    assert fills[4].exec_id not in rows
    assert len(rows) == 4
    corrected = rows[fills[3].exec_id]
    assert corrected["quantity"] == "9" and corrected["price"] == "99"
    assert corrected["gross_amount"] == "891" and corrected["net_amount"] == "892"
    assert corrected["fill_version"] == "2" and corrected["corrected"] == "true"


def test_json_totals_and_pdf_lists_every_record(desk, officer):
    body = json_body(blotter(officer, "json"), officer)
    totals = body["summary"]["totals"]
    assert totals["Purchases and sales"] == 5
    assert totals["Purchases"] == 2 and totals["Sales"] == 3
    assert totals["Bought (gross) USD"] == "1000" and totals["Sold (gross) USD"] == "755"
    assert totals["Commission EUR"] == "3"

    report = blotter(officer, "pdf")
    data = content(report, officer)
    assert hashlib.sha256(data).hexdigest() == report.sha256
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )
    assert "Complete: every one of the 5 purchases and sales is listed" in text
    for fill in desk["fills"][1:]:
        assert fill.exec_id in text
    assert desk["fills"][0].exec_id not in text  # the day before


def test_generating_needs_a_compliance_officer_and_reading_a_risk_manager(api_client_for, desk):
    assert_api_role_required(
        api_client_for, "post", REPORTS, Role.COMPLIANCE_OFFICER, {**BODY, "format": "csv"}
    )
    report_id = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS, {**BODY, "format": "pdf"}, format="json"
    )
    assert report_id.status_code == 201
    download = f"{REPORTS}{report_id.json()['id']}/download/"
    assert_api_role_required(api_client_for, "get", download, Role.RISK_MANAGER)
    response = api_client_for(Role.RISK_MANAGER).get(download)
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == response["X-Content-SHA256"]
    assert response["X-Content-SHA256"] == report_id.json()["sha256"]


def test_a_format_the_blotter_does_not_come_in_is_a_400(api_client_for, desk):
    from apps.reporting.models import RegulatoryReport

    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS, {**BODY, "format": "xml"}, format="json"
    )
    assert response.status_code == 400
    assert (
        "blotter report comes as csv, json, pdf" in response.json()["error"]["details"]["format"][0]
    )
    assert not RegulatoryReport.objects.exists()
