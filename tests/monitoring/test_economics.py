"""The monitor values books as the gate does: quantity x price x multiplier, in one currency.

ACC-E1 holds 100 AAA shares at 200 (20,000) and 10 call contracts at a premium of 10 on 100
shares each (10,000): a third of the book is in options, not half a percent.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.monitoring.models import MonitorRun, Violation
from apps.monitoring.services import monitor_run
from apps.trading.services import fx_rate_record
from tests.monitoring.conftest import NOW, closes, instrument, position
from tests.rules.factories import make_rule
from tests.trading.factories import AccountFactory


@pytest.fixture
def options_book(db):
    shares = instrument("AAA", "Technology", "200")
    call = instrument("AAA-C", "Derivatives", "10")
    call.multiplier = Decimal("100")
    call.save(update_fields=["multiplier"])
    account = AccountFactory(code="ACC-E1")
    position(account, shares, "100")
    position(account, call, "10")
    return shares, call


def _observed(rule_type: str, params: dict) -> dict[str, Decimal]:
    make_rule(rule_type, params)
    run = monitor_run(now=NOW)
    assert run.status == "ok", run.error
    return {v.subject: v.observed for v in Violation.objects.filter(status="active")}


def test_position_weight_counts_the_contract_size(options_book):
    # 20,000 of 30,000: 66.67%; without the multiplier AAA alone would be 99.5%
    assert _observed("position_weight", {"max_pct": "60"})["ACC-E1"] == Decimal("66.6667")


def test_sector_weight_counts_the_contract_size(options_book):
    assert _observed("sector_weight", {"max_pct": "30"})["ACC-E1"] == Decimal("66.6667")


def test_herfindahl_counts_the_contract_size(options_book):
    # (2/3)^2 + (1/3)^2 = 0.5556; without the multiplier it would be 0.99
    assert _observed("herfindahl", {"max_index": "0.5"})["ACC-E1"] == Decimal("0.5556")


def test_expected_shortfall_counts_the_contract_size(options_book):
    shares, call = options_book
    closes(shares, ["200", "200", "200"])
    closes(call, ["10", "7", "10"])  # the premium falls 3: 10 contracts x 100 x 3 = 3,000
    # 3,000 of a 30,000 NAV: 10%; without the multiplier 30 of 20,100 (0.15%)
    assert _observed("expected_shortfall", {"max_pct": "5"})["ACC-E1"] == Decimal("10.0000")


def test_a_eur_book_is_valued_at_the_rate(db):
    usd = instrument("UUU", "Technology", "100")
    eur = instrument("EEE", "Technology", "100")
    eur.currency = "EUR"
    eur.save(update_fields=["currency"])
    account = AccountFactory(code="ACC-E2", base_currency="EUR")
    position(account, usd, "100")  # 10,000 USD
    position(account, eur, "100")  # 10,000 EUR = 12,000 USD
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=NOW - timedelta(hours=1))
    # 12,000 of 22,000 = 54.55%: one for one it would be 50%
    assert _observed("position_weight", {"max_pct": "52"})["ACC-E2"] == Decimal("54.5455")


def test_the_floor_is_in_the_account_currency(db):
    """A EUR account worth 10,000 EUR (12,000 USD) is under a floor of 11,000: its own
    currency decides, not the firm's."""
    eur = instrument("EEF", "Technology", "100")
    eur.currency = "EUR"
    eur.save(update_fields=["currency"])
    account = AccountFactory(code="ACC-E3", base_currency="EUR")
    position(account, eur, "100")
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=NOW - timedelta(hours=1))
    found = _observed("position_weight", {"max_pct": "50", "min_portfolio_value": "11000"})
    assert "ACC-E3" not in found and found["firm"] == Decimal("100.0000")


def test_a_book_without_a_rate_is_an_error_not_a_guess(db):
    eur = instrument("EEG", "Technology", "100")
    eur.currency = "EUR"
    eur.save(update_fields=["currency"])
    position(AccountFactory(code="ACC-E4"), eur, "100")
    make_rule("position_weight", {"max_pct": "50"})
    run = monitor_run(now=NOW)
    assert run.status == "error" and "EUR into USD" in run.error
    assert MonitorRun.objects.filter(status="error").count() == 1


def test_2213_calls_at_12_35_weigh_2733055(db):
    """The issue's numbers: 2,213 calls at 12.35 against 2,733,055 of stock are half the book
    (valued one for one they would be 1%)."""
    stock = instrument("SSS", "Technology", "100")
    call = instrument("SSS-C", "Technology", "12.35")
    call.multiplier = Decimal("100")
    call.save(update_fields=["multiplier"])
    account = AccountFactory(code="ACC-E5")
    position(account, stock, "27330.55")
    position(account, call, "2213")
    assert _observed("position_weight", {"max_pct": "40"})["ACC-E5"] == Decimal("50.0000")
