"""Rule 606(a)(1): held client orders by section, order type and venue, on a known day.

Client account ACC-C (AOTC), on 2026-11-20, AAPL in the S&P 500 list:

| order | instrument | type | limit / reference | fills (venue) | counts as |
|---|---|---|---|---|---|
| a | AAPL  | market buy          | - / 100   | XNAS            | S&P 500, market |
| b | AAPL  | limit buy 101       | 101 / 100 | XNAS 5, BATS 5  | S&P 500, marketable, 2 venues |
| c | AAPL  | limit sell 105      | 105 / 100 | BATS            | S&P 500, non-marketable limit |
| d | AAPL  | limit buy, directed | 99 / 100  | EDGX            | left out (directed) |
| e | SMALL | limit buy 50        | 50 / none | XNAS            | other NMS, other |
| f | AAPL-OPT | limit buy 2      | 2 / 2     | XCBO            | options, marketable limit |
| g | SAP   | limit buy 200       | 200 / 200 | XETR            | left out (not a 606 security) |
| h | AAPL  | limit buy 100       | 100 / 100 | none            | left out (no venue) |

and on the firm's own book (DEAL) an AAPL market order filled at XNAS: not a held order.
"""

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest

from apps.rbac.roles import Role
from apps.reporting.builders.rule_606 import order_type_of, section_of
from apps.reporting.models import RegulatoryReport
from apps.reporting.services import report_generate
from apps.trading.models import Order
from apps.trading.services import order_create, order_fill
from tests.permissions import assert_api_role_required
from tests.reporting.factories import DAY, at
from tests.reporting.helpers import csv_rows
from tests.trading.factories import AccountFactory, InstrumentFactory

pytestmark = pytest.mark.django_db
D = Decimal
_ids = count(1)


def _order(account, instrument, *, side, order_type, quantity, limit, reference, fills,
           metadata=None, hhmm="10:00"):  # fmt: skip
    n = next(_ids)
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id=f"r606-{n}",
        side=side,
        order_type=order_type,
        quantity=quantity,
        limit_price=None if limit is None else Decimal(limit),
        reference_price=None if reference is None else Decimal(reference),
        metadata=metadata or {},
        check_duplicate=False,
    )
    created = at(DAY, hhmm)
    Order.objects.filter(pk=order.pk).update(created_at=created)
    order.refresh_from_db()
    for k, (venue, qty, price) in enumerate(fills):
        order_fill(
            order=order,
            exec_id=f"R606-{n}-{k}",
            quantity=qty,
            price=price,
            venue=venue,
            executed_at=created + timedelta(minutes=1 + k),
            liquidity="removed",
        )
    return order


@pytest.fixture
def flow(settings):
    settings.RULE_606_SP500_SYMBOLS = ["AAPL"]
    client = AccountFactory(code="ACC-C", trading_capacity="AOTC")
    own = AccountFactory(code="ACC-D")
    aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005", mic="XNAS")
    small = InstrumentFactory(symbol="SMALL", mic="XNAS")
    option = InstrumentFactory(symbol="AAPL-OPT", mic="XCBO", asset_class="option")
    sap = InstrumentFactory(symbol="SAP", isin="DE0007164600", mic="XETR", currency="EUR")
    _order(
        client,
        aapl,
        side="buy",
        order_type="market",
        quantity="10",
        limit=None,
        reference="100",
        fills=[("XNAS", "10", "100")],
    )
    _order(
        client,
        aapl,
        side="buy",
        order_type="limit",
        quantity="10",
        limit="101",
        reference="100",
        fills=[("XNAS", "5", "100"), ("BATS", "5", "101")],
    )
    _order(
        client,
        aapl,
        side="sell",
        order_type="limit",
        quantity="3",
        limit="105",
        reference="100",
        fills=[("BATS", "3", "105")],
    )
    _order(
        client,
        aapl,
        side="buy",
        order_type="limit",
        quantity="1",
        limit="99",
        reference="100",
        fills=[("EDGX", "1", "99")],
        metadata={"directed_venue": "EDGX"},
    )
    _order(
        client,
        small,
        side="buy",
        order_type="limit",
        quantity="7",
        limit="50",
        reference=None,
        fills=[("XNAS", "7", "50")],
    )
    _order(
        client,
        option,
        side="buy",
        order_type="limit",
        quantity="2",
        limit="2",
        reference="2",
        fills=[("XCBO", "2", "2")],
    )
    _order(
        client,
        sap,
        side="buy",
        order_type="limit",
        quantity="1",
        limit="200",
        reference="200",
        fills=[("XETR", "1", "200")],
    )
    _order(
        client,
        aapl,
        side="buy",
        order_type="limit",
        quantity="1",
        limit="100",
        reference="100",
        fills=[],
    )
    _order(own, aapl, side="buy", order_type="market", quantity="9", limit=None,
           reference="100", fills=[("XNAS", "9", "100")])  # fmt: skip


def _report(officer, fmt="csv"):
    return report_generate(
        report_type="rule_606", period_start=DAY, period_end=DAY, fmt=fmt, actor=officer
    )


def test_sections_order_types_and_venues(flow, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    report = _report(officer)
    rows = csv_rows(report, officer)
    lines = [(r["quarter"], r["section"], r["venue"], r["orders"], r["venue_orders"]) for r in rows]
    assert lines == [
        ("2026Q4", "S&P 500 stocks", "BATS", "3", "2"),
        ("2026Q4", "S&P 500 stocks", "XNAS", "3", "2"),
        ("2026Q4", "Other NMS stocks", "XNAS", "1", "1"),
        ("2026Q4", "Options", "XCBO", "1", "1"),
    ]
    assert report.record_count == 4
    types = ("market", "marketable_limit", "non_marketable_limit", "other")
    bats, xnas = rows[0], rows[1]
    assert [Decimal(bats[f"{t}_pct"]) for t in types] == [D("33.33"), D("33.33"), D("33.33"), 0]
    assert D(bats["venue_non_directed_pct"]) == D(xnas["venue_non_directed_pct"]) == D("66.67")
    assert [D(bats[f"venue_{t}_pct"]) for t in types] == [0, 100, 100, 0]
    assert [D(xnas[f"venue_{t}_pct"]) for t in types] == [100, 100, 0, 0]
    assert D(rows[2]["other_pct"]) == D(rows[2]["venue_other_pct"]) == 100
    assert D(rows[3]["marketable_limit_pct"]) == 100
    for row in rows:
        assert row["net_payment_market"] == row["net_payment_other"] == "n/a"
    totals = report.summary["totals"]
    assert totals["Held orders counted"] == 5
    assert totals["Directed orders left out"] == 1
    assert totals["Orders outside Rule 606 left out"] == 1
    assert totals["Held orders without a fill (no venue) left out"] == 1


def test_the_pdf_and_json_build(flow, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    assert _report(officer, "pdf").size > 0
    assert _report(officer, "json").record_count == 4


def test_without_the_sp500_list_every_nms_stock_is_other(flow, make_user, settings):
    settings.RULE_606_SP500_SYMBOLS = []
    officer = make_user(Role.COMPLIANCE_OFFICER)
    rows = csv_rows(_report(officer), officer)
    assert {r["section"] for r in rows} == {"Other NMS stocks", "Options"}
    other = {r["venue"]: r for r in rows if r["section"] == "Other NMS stocks"}
    assert {v: (r["orders"], r["venue_orders"]) for v, r in other.items()} == {
        "XNAS": ("4", "3"),
        "BATS": ("4", "2"),
    }


def test_requesting_needs_a_compliance_officer(api_client_for, flow):
    body = {
        "report_type": "rule_606",
        "period_start": str(DAY),
        "period_end": str(DAY),
        "format": "csv",
    }
    assert_api_role_required(
        api_client_for, "post", "/api/v1/reports/", Role.COMPLIANCE_OFFICER, body
    )
    assert RegulatoryReport.objects.filter(report_type="rule_606").count() == 1


def test_classification_rules():
    assert order_type_of(order_type="market", side="sell", limit_price=None,
                         reference_price=None) == "market"  # fmt: skip
    assert order_type_of(order_type="limit", side="sell_short", limit_price=Decimal("99"),
                         reference_price=Decimal("100")) == "marketable_limit"  # fmt: skip
    assert order_type_of(order_type="limit", side="buy", limit_price=Decimal("99"),
                         reference_price=Decimal("100")) == "non_marketable_limit"  # fmt: skip
    args = {"symbol": "X", "sp500": set()}
    assert section_of(asset_class="bond", mic="XNYS", currency="USD", **args) is None
    assert section_of(asset_class="crypto", mic="XNAS", currency="USD", **args) is None
    assert section_of(asset_class="etf", mic="ARCX", currency="USD", **args) == "Other NMS stocks"
    assert section_of(asset_class="equity", mic="XLON", currency="GBP", **args) is None


def test_the_schedule_builds_the_quarter_just_ended_once(db):
    from datetime import date

    from apps.reporting.services import previous_quarter
    from apps.reporting.tasks import generate_daily

    assert previous_quarter(date(2026, 10, 1)) == (date(2026, 7, 1), date(2026, 9, 30))
    assert previous_quarter(date(2026, 1, 15)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert previous_quarter(date(2026, 12, 6)) == (date(2026, 7, 1), date(2026, 9, 30))
    built = generate_daily(reports=[["rule_606", "csv"]], today="2026-10-01")
    assert len(built) == 1
    report = RegulatoryReport.objects.get(pk=built[0])
    assert (report.period_start, report.period_end) == (date(2026, 7, 1), date(2026, 9, 30))
    # the next business days of the quarter find it built
    assert generate_daily(reports=[["rule_606", "csv"]], today="2026-10-02") == []
