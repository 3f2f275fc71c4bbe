"""Reports value contracts with their multiplier and add amounts up across currencies.

The desk of tests/reporting/factories.py plus 2,213 option contracts bought at 12.35 (100
shares each: 2,733,055 USD) on 2026-11-20, and EUR/USD at 1.2 that afternoon.
"""

import pytest

from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from apps.trading.services import fx_rate_record
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import csv_rows, json_body
from tests.trading.factories import OptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def options_desk(desk):
    call = OptionFactory(symbol="AAPL-C250")
    book_fill(
        account=desk["t1"],
        instrument=call,
        side="buy",
        quantity="2213",
        price="12.35",
        executed_at=at(DAY, "17:00"),
        venue="XCBO",
        exec_id="EX-OPT",
    )
    return {**desk, "call": call}


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def generate(officer, report_type, fmt):
    return report_generate(
        report_type=report_type, period_start=DAY, period_end=DAY, fmt=fmt, actor=officer
    )


def test_daily_trading_values_an_option_fill_with_its_multiplier(options_desk, officer):
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=at(DAY, "16:00"))
    rows = csv_rows(generate(officer, "daily_trading", "csv"), officer)
    option = next(r for r in rows if r["exec_id"] == "EX-OPT")
    assert (option["quantity"], option["price"], option["multiplier"], option["value"]) == (
        "2213",
        "12.35",
        "100",
        "2733055",
    )
    totals = json_body(generate(officer, "daily_trading", "json"), officer)["summary"]["totals"]
    assert totals["Traded value USD"] == "2734810"  # 1,755 + 2,733,055
    assert totals["Traded value EUR"] == "2680"
    # 2,734,810 USD + 2,680 EUR x 1.2
    assert totals["Traded value in USD"] == "2738026"
    assert "Traded value not converted (no FX rate)" not in totals


def test_a_currency_without_a_rate_is_named_not_guessed(desk, officer):
    totals = json_body(generate(officer, "daily_trading", "json"), officer)["summary"]["totals"]
    assert totals["Traded value in USD"] == "1755"  # the USD only
    assert totals["Traded value not converted (no FX rate)"] == "EUR"


def test_a_rate_recorded_after_the_period_is_not_used(desk, officer):
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=at(DAY.replace(day=21), "09:00"))
    totals = json_body(generate(officer, "daily_trading", "json"), officer)["summary"]["totals"]
    assert totals["Traded value not converted (no FX rate)"] == "EUR"


def test_positions_value_an_option_with_its_multiplier(options_desk, officer):
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=at(DAY, "16:00"))
    rows = csv_rows(generate(officer, "positions", "csv"), officer)
    option = next(r for r in rows if r["symbol"] == "AAPL-C250")
    # no close and no reference price: marked at the last fill, 12.35
    assert (option["net_position"], option["multiplier"], option["market_value"]) == (
        "2213",
        "100",
        "2733055",
    )
    summary = json_body(generate(officer, "positions", "json"), officer)["summary"]
    assert summary["totals"]["Net market value USD"] == "2733585"  # 530 + 2,733,055
    # 2,733,585 USD - 615 EUR x 1.2
    assert summary["totals"]["Net market value in USD"] == "2732847"
    in_base = {r[0]: r for r in summary["tables"][1]["rows"]}
    assert in_base["ACC-T1"] == ["ACC-T1", "USD", "2733585", ""]
    assert in_base["ACC-T2"] == ["ACC-T2", "USD", "-738", ""]


def test_best_execution_ranks_option_volume_with_its_multiplier(options_desk, officer):
    rows = csv_rows(generate(officer, "best_execution", "csv"), officer)
    option = next(r for r in rows if r["instrument_class"] == "option")
    assert (option["venue"], option["volume"]) == ("XCBO", "2733055")
    totals = json_body(generate(officer, "best_execution", "json"), officer)["summary"]["totals"]
    assert totals["Volume retail option in USD"] == "2733055"


def test_mifir_keeps_price_and_quantity_per_contract(options_desk, officer):
    rows = csv_rows(generate(officer, "mifir_transactions", "csv"), officer)
    option = next(r for r in rows if r["exec_id"] == "EX-OPT")
    assert (option["quantity"], option["price"], option["price_multiplier"]) == (
        "2213",
        "12.35",
        "100",
    )
