"""Best execution (RTS 28 style) against the hand-computed desk."""

import pytest

from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from tests.reporting.factories import DAY
from tests.reporting.helpers import csv_rows, json_body

pytestmark = pytest.mark.django_db


def generate(user, fmt):
    return report_generate(
        report_type="best_execution", period_start=DAY, period_end=DAY, fmt=fmt, actor=user
    )


def test_top_venues_per_class_and_currency(desk, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    rows = csv_rows(generate(officer, "csv"), officer)
    table = [
        [
            r["instrument_class"],
            r["currency"],
            r["rank"],
            r["venue"],
            r["volume"],
            r["volume_pct"],
            r["orders"],
            r["orders_pct"],
            r["passive_pct"],
            r["aggressive_pct"],
            r["directed_pct"],
        ]
        for r in rows
    ]
    assert table == [
        # SAP: both fills on XETR, one added liquidity, one removed it
        ["equity", "EUR", "1", "XETR", "2680", "100", "2", "100", "50", "50", "0"],
        # AAPL: XNAS 1000 + 440 of 1755; BATS 315, the order the client directed there
        ["equity", "USD", "1", "XNAS", "1440", "82.05", "2", "66.67", "50", "50", "0"],
        ["equity", "USD", "2", "BATS", "315", "17.95", "1", "33.33", "0", "100", "100"],
    ]


def test_only_five_venues_per_class(desk, make_user):
    from tests.reporting.factories import at, book_fill

    for n, venue in enumerate(["XCHI", "XBOS", "ARCX", "EDGX", "IEXG"]):
        book_fill(
            account=desk["t1"],
            instrument=desk["aapl"],
            side="buy",
            quantity="1",
            price=str(100 + n),
            executed_at=at(DAY, "17:00"),
            venue=venue,
        )
    officer = make_user(Role.COMPLIANCE_OFFICER)
    body = json_body(generate(officer, "json"), officer)
    usd = [r for r in body["rows"] if r["currency"] == "USD"]
    assert [r["venue"] for r in usd] == ["XNAS", "BATS", "IEXG", "EDGX", "ARCX"]
    assert body["summary"]["totals"]["Orders equity USD"] == 8
