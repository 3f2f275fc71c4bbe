"""The positions report, rebuilt from the fills up to the end of the as-of date."""

import pytest

from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from tests.reporting.factories import DAY, PREVIOUS
from tests.reporting.helpers import csv_rows, json_body

pytestmark = pytest.mark.django_db


def generate(user, fmt, day):
    return report_generate(
        report_type="positions", period_start=day, period_end=day, fmt=fmt, actor=user
    )


def test_positions_at_the_end_of_the_day(desk, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    rows = csv_rows(generate(officer, "csv", DAY), officer)
    assert rows == [
        {
            # 2 @ 90 + 10 @ 100: average (180 + 1000) / 12; sells keep the average; 5 left
            "as_of": "2026-11-20",
            "account": "ACC-T1",
            "symbol": "AAPL",
            "isin": "US0378331005",
            "currency": "USD",
            "net_position": "5",
            "average_price": "98.33333333",
            "mark_price": "106",
            "mark_source": "close",
            "multiplier": "1",
            "market_value": "530",
        },
        {
            # 5 @ 200, then selling 8 crosses zero: short 3 opened at 210
            "as_of": "2026-11-20",
            "account": "ACC-T2",
            "symbol": "SAP",
            "isin": "DE0007164600",
            "currency": "EUR",
            "net_position": "-3",
            "average_price": "210",
            "mark_price": "205",
            "mark_source": "reference",
            "multiplier": "1",
            "market_value": "-615",
        },
    ]


def test_a_past_date_is_reported_as_it_stood(desk, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    rows = csv_rows(generate(officer, "csv", PREVIOUS), officer)
    # Only the 11-19 fill; no close that day, the reference price of 11-19 marks it
    assert [
        (r["account"], r["net_position"], r["mark_price"], r["market_value"]) for r in rows
    ] == [("ACC-T1", "2", "100", "200")]


def test_summary_nets_market_value_per_currency(desk, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    body = json_body(generate(officer, "json", DAY), officer)
    assert body["summary"]["totals"]["Net market value USD"] == "530"
    assert body["summary"]["totals"]["Net market value EUR"] == "-615"
