"""Best execution, retail and professional clients apart, against the hand-computed desk."""

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
            r["client_category"],
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
        ["retail", "equity", "EUR", "1", "XETR", "2680", "100", "2", "100", "50", "50", "0"],
        # AAPL: XNAS 1000 + 440 of 1755; BATS 315, the order the client directed there
        ["retail", "equity", "USD", "1", "XNAS", "1440", "82.05", "2", "66.67", "50", "50", "0"],
        ["retail", "equity", "USD", "2", "BATS", "315", "17.95", "1", "33.33", "0", "100", "100"],
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
    assert body["summary"]["totals"]["Orders retail equity USD"] == 8


def test_retail_and_professional_apart_and_eligible_counterparties_left_out(desk, make_user):
    from apps.trading.services import account_update
    from tests.reporting.factories import at, book_fill
    from tests.trading.factories import AccountFactory

    account_update(account=desk["t2"], client_category="professional")  # the SAP fills
    ecp = AccountFactory(code="ACC-ECP", client_category="eligible_counterparty")
    for venue in ("XNAS", "XNAS", "ARCX"):
        book_fill(
            account=ecp,
            instrument=desk["aapl"],
            side="buy",
            quantity="10",
            price="100",
            executed_at=at(DAY, "17:00"),
            venue=venue,
        )
    officer = make_user(Role.COMPLIANCE_OFFICER)
    body = json_body(generate(officer, "json"), officer)
    assert [
        (r["client_category"], r["currency"], r["venue"], r["volume"]) for r in body["rows"]
    ] == [
        ("retail", "USD", "XNAS", "1440"),  # the counterparty's XNAS fills are not in it
        ("retail", "USD", "BATS", "315"),
        ("professional", "EUR", "XETR", "2680"),
    ]
    totals = body["summary"]["totals"]
    assert totals["Eligible counterparty fills left out (MiFID II art. 30(1))"] == 3
    assert totals["Eligible counterparty orders left out"] == 3
    assert totals["Eligible counterparty volume left out USD"] == "3000"
    assert totals["Volume professional equity EUR"] == "2680"
    assert [t["title"] for t in body["summary"]["tables"]] == [
        "Retail clients, equity (USD): top five venues",
        "Professional clients, equity (EUR): top five venues",
    ]
    assert "RTS 28" not in body["report"]["title"]


def test_the_pdf_names_both_categories_and_not_rts_28(desk, make_user):
    import io

    from pypdf import PdfReader

    from apps.trading.services import account_update
    from tests.reporting.helpers import content

    account_update(account=desk["t2"], client_category="professional")
    officer = make_user(Role.COMPLIANCE_OFFICER)
    data = content(generate(officer, "pdf"), officer)
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )
    assert "retail and professional clients" in text
    assert "Retail clients, equity (USD): top five venues" in text
    assert "Professional clients, equity (EUR): top five venues" in text
    assert "not the withdrawn RTS 28 publication" in text
