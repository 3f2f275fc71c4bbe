"""Every rule type's validate() and evaluate(): pure unit tests, no database."""

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.rules.checks import REGISTRY
from apps.rules.checks.base import (
    CheckContext,
    CrossingOrder,
    InstrumentInfo,
    LocateInfo,
    OrderIntent,
    ParameterError,
)
from apps.rules.models import RuleType

NOW = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)

AAPL = InstrumentInfo(
    id=1,
    symbol="AAPL",
    asset_class="equity",
    sector="Technology",
    issuer="Apple Inc.",
    mic="XNAS",
    calendar="",
    currency="USD",
    lot_size=D("1"),
    tick_size=D("0.01"),
)
# A buy limit 100 @ 10: notional 1000.
ORDER = OrderIntent(
    account_id=1,
    account_code="ACC-001",
    instrument=AAPL,
    side="buy",
    order_type="limit",
    quantity=D("100"),
    limit_price=D("10"),
    time_in_force="day",
    metadata={"signal_id": "sig-991", "risk_score": "0.42", "decision": "enter_long"},
    client_order_id="strat7-000123",
    submitted_by="trader",
)
INSTRUMENT_FIELDS = {f.name for f in fields(InstrumentInfo)}
ORDER_FIELDS = {f.name for f in fields(OrderIntent)} - {"instrument"}


def make_ctx(**overrides) -> CheckContext:
    """The default order and a fresh reference of 10 on an open market; any field overridden.

    Keyword names are routed to the instrument, the order or the context by field name.
    """
    inst = {k: overrides.pop(k) for k in list(overrides) if k in INSTRUMENT_FIELDS}
    order = {k: overrides.pop(k) for k in list(overrides) if k in ORDER_FIELDS}
    defaults = {
        "order": replace(ORDER, instrument=replace(AAPL, **inst), **order),
        "now": NOW,
        "reference_price": D("10"),
        "reference_as_of": NOW - timedelta(seconds=10),
        "is_open": lambda calendar, when: True,
    }
    return CheckContext(**{**defaults, **overrides})


def run(rule_type: str, params: dict, **overrides):
    module = REGISTRY[rule_type]
    return module.evaluate(module.validate(params), make_ctx(**overrides))


# --- the registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("rule_type", RuleType.values)
def test_every_rule_type_has_a_module(rule_type):
    module = REGISTRY[rule_type]
    assert callable(module.validate)
    assert callable(module.evaluate)


# --- one passing and at least one failing case per rule type ----------------------------------

OTHERS = {"exposure_by_instrument": {2: D("9000"), 3: D("10000")}}
FIRM = {"firm_currency": "USD"}
# A short sale of the 100 AAPL naming locate 7: 500 located, 300 used by other short sales.
LOCATE = LocateInfo(7, 1, "Prime Lending", D("500"), D("300"), NOW + timedelta(hours=6))
SHORT = {"side": "sell_short", "metadata": {"locate_id": 7}, "locate": LOCATE}


def crossing(account_id: int = 1, **fields) -> CrossingOrder:
    """A working sell of 50 at 9.99 that the default buy at 10 crosses."""
    values = {
        "id": 77,
        "client_order_id": "mm-77",
        "account_id": account_id,
        "account_code": "ACC-001" if account_id == 1 else "ACC-004",
        "beneficial_owner": "Victor A. Hale",
        "side": "sell",
        "order_type": "limit",
        "limit_price": D("9.99"),
        "open_quantity": D("50"),
        "status": "accepted",
    }
    return CrossingOrder(**{**values, **fields})


PASSING = [
    ("restricted_list", {}, {}),
    ("market_access", {"default": "allow"}, {}),
    ("market_access", {"accounts": {"ACC-001": {"asset_classes": ["equity"]}}}, {}),
    ("market_access", {"accounts": {"ACC-001": {"instruments": ["AAPL"]}}}, {}),
    (
        "market_access",
        {"users": {"trader": {"accounts": ["ACC-001"]}}, "default": "allow"},
        {},
    ),
    ("trading_hours", {}, {}),
    ("price_collar", {}, {"limit_price": D("10.5")}),  # exactly 5%: at the collar passes
    ("price_reasonability", {"max_price": "1000"}, {}),
    ("quantity_reasonability", {"max_quantity": "10000"}, {}),
    ("order_size", {"max_quantity": "1000"}, {}),
    ("max_notional", {"max_notional": "5000"}, {}),
    ("approval_threshold", {}, {}),
    ("position_limit", {"max_quantity": "1000", "max_value": "100000"}, {}),
    ("position_limit", {"max_quantity": "1000"}, {"reference_price": None, "limit_price": None}),
    ("gross_notional", {"max_gross_notional": "20000"}, OTHERS),
    ("concentration", {}, OTHERS),
    ("concentration", {"min_portfolio_value": "5000"}, {}),  # too small to judge
    (
        "sector_concentration",
        {},
        {**OTHERS, "sector_by_instrument": {2: "Energy", 3: "Financials"}},
    ),
    ("daily_volume", {"max_quantity": "1000", "max_notional": "100000"}, {}),
    ("daily_volume", {"max_quantity": "1000"}, {"working_sell": D("5000")}),  # other side
    ("order_rate", {}, {"orders_last_minute": 119}),
    (
        "message_rate",
        {"max_per_second": 10, "max_per_minute": 120},
        {
            "account_messages_last_minute": 119,
            "account_messages_last_second": 9,
            "user_messages_last_minute": 119,
            "user_messages_last_second": 9,
        },
    ),
    ("message_rate", {"max_per_minute": 5, "per": "account"}, {"user_messages_last_minute": 50}),
    ("message_rate", {"max_per_minute": 5, "per": "user"}, {"account_messages_last_minute": 50}),
    ("self_trade", {}, {}),
    # the account's own crossing orders only: another account of the owner does not count
    ("self_trade", {"same_owner": False}, {"crossing_orders": [crossing(account_id=4)]}),
    ("cancel_ratio", {}, {"today_orders": 100, "today_cancels": 95}),
    ("cancel_ratio", {}, {"today_orders": 10, "today_cancels": 10}),  # too few to judge
    ("duplicate_order", {}, {}),
    ("credit_limit", {}, {"account_credit_limit": D("100000")}),
    ("credit_limit", {"use_account_limit": False, "max_credit": "1000"}, {}),
    ("decision_provenance", {}, {}),
    ("decision_provenance", {}, {"metadata": {"risk_check_id": "rc-17"}}),
    (
        "decision_provenance",
        {"max_risk_score": "0.9", "require_review_flag_above_score": "0.3"},
        {"metadata": {"signal_id": "s", "risk_score": "0.42", "reviewed": True}},
    ),
    ("short_sale", {}, SHORT),
    ("short_sale", {}, {**SHORT, "metadata": {"locate_id": "7"}}),  # its digits as a string
    ("short_sale", {}, {**SHORT, "quantity": D("200")}),  # exactly what is left
    ("sale_marking", {}, {"side": "sell", "position": D("100")}),  # all of it
    ("sale_marking", {}, {"side": "sell", "position": D("250"), "working_sell": D("150")}),
    ("firm_capital", {"max_notional": "100000"}, {"firm_used": D("99000"), **FIRM}),
]

FAILING = [
    (
        "restricted_list",
        {},
        {"restrictions": [{"kind": "instrument", "target": "AAPL", "reason": "MNPI"}]},
        "restricted_instrument",
    ),
    (
        "restricted_list",
        {},
        {"restrictions": [{"kind": "issuer", "target": "Apple Inc.", "reason": "deal team"}]},
        "restricted_issuer",
    ),
    (
        "restricted_list",
        {},
        {"restrictions": [{"kind": "underlying_issuer", "target": "Apple Inc.", "reason": "x"}]},
        "restricted_underlying_issuer",
    ),
    ("market_access", {}, {}, "account_not_permitted"),  # default deny
    (
        "market_access",
        {"accounts": {"ACC-001": {"asset_classes": ["bond"], "instruments": ["MSFT"]}}},
        {},
        "account_not_permitted",
    ),
    (
        "market_access",
        {"users": {"trader": {"accounts": ["ACC-002"]}}, "default": "allow"},
        {},
        "user_not_permitted",
    ),
    ("trading_hours", {}, {"is_open": lambda calendar, when: False}, "market_closed"),
    ("trading_hours", {}, {"is_open": lambda calendar, when: None}, "unknown_calendar"),
    ("trading_hours", {}, {"mic": "", "calendar": ""}, "unknown_calendar"),
    ("price_collar", {}, {"limit_price": D("10.6")}, "price_outside_collar"),
    ("price_collar", {}, {"limit_price": D("9.4")}, "price_outside_collar"),
    ("price_collar", {}, {"reference_price": None}, "no_reference_price"),
    ("price_collar", {}, {"reference_price": D("0")}, "no_reference_price"),
    (
        "price_collar",
        {},
        {"reference_as_of": NOW - timedelta(seconds=301)},
        "stale_reference_price",
    ),
    ("price_collar", {}, {"reference_as_of": None}, "stale_reference_price"),
    (
        "price_collar",
        {},
        {"order_type": "market", "limit_price": None, "reference_price": None},
        "no_reference_price",
    ),
    (
        "price_collar",
        {},
        {"order_type": "market", "limit_price": None, "reference_as_of": NOW - timedelta(hours=1)},
        "stale_reference_price",
    ),
    (
        "price_reasonability",
        {"max_price": "1000"},
        {"limit_price": D("10.005")},
        "price_not_on_tick",
    ),
    ("price_reasonability", {"max_price": "5"}, {}, "price_out_of_bounds"),
    ("price_reasonability", {"max_price": "5"}, {"limit_price": D("0")}, "price_out_of_bounds"),
    ("quantity_reasonability", {"max_quantity": "50"}, {}, "quantity_unreasonable"),
    (
        "quantity_reasonability",
        {"max_quantity": "10000"},
        {"lot_size": D("10"), "quantity": D("105")},
        "quantity_not_whole_lots",
    ),
    ("order_size", {"max_quantity": "50"}, {}, "quantity_above_max"),
    ("order_size", {"min_quantity": "200", "max_quantity": "500"}, {}, "quantity_below_min"),
    ("max_notional", {"max_notional": "500"}, {}, "notional_above_max"),
    (
        "max_notional",
        {"max_notional": "500"},
        {"order_type": "market", "limit_price": None, "reference_price": None},
        "no_price",
    ),
    ("approval_threshold", {"notional": "500"}, {}, "above_approval_threshold"),
    (
        "position_limit",
        {"max_quantity": "1000"},
        {"position": D("850"), "working_buy": D("100")},
        "position_quantity_limit",
    ),
    (
        "position_limit",
        {"max_quantity": "1000"},
        {"side": "sell", "position": D("-950")},
        "position_quantity_limit",
    ),
    ("position_limit", {"max_value": "500"}, {}, "position_value_limit"),
    (
        "position_limit",
        {"max_value": "500"},
        {"limit_price": None, "reference_price": None},
        "no_price",
    ),
    ("gross_notional", {"max_gross_notional": "19999"}, OTHERS, "gross_notional_limit"),
    (
        "gross_notional",
        {"max_gross_notional": "19999"},
        {"limit_price": None, "reference_price": None},
        "no_price",
    ),
    ("concentration", {}, {}, "concentration_limit"),  # first order: 100% of the portfolio
    (
        "concentration",
        {"max_pct": "10"},
        {"exposure_by_instrument": {1: D("1000"), 2: D("9000")}},
        "concentration_limit",
    ),
    (
        "sector_concentration",
        {},
        {**OTHERS, "sector_by_instrument": {2: "Technology", 3: "Energy"}},
        "sector_concentration_limit",
    ),
    ("sector_concentration", {}, {"sector": ""}, "no_sector"),
    (
        "daily_volume",
        {"max_quantity": "1000"},
        {"today_filled_quantity": D("800"), "working_buy": D("150")},
        "daily_volume_quantity",
    ),
    (
        "daily_volume",
        {"max_notional": "100000"},
        {"today_filled_notional": D("90000"), "account_open_notional": D("9500")},
        "daily_volume_notional",
    ),
    ("order_rate", {}, {"orders_last_minute": 120}, "order_rate_exceeded"),
    (
        "message_rate",
        {"max_per_minute": 120},
        {"account_messages_last_minute": 120},
        "message_rate_exceeded",
    ),
    (
        "message_rate",
        {"max_per_second": 5, "per": "user"},
        {"user_messages_last_second": 5},
        "message_rate_exceeded",
    ),
    ("self_trade", {}, {"crossing_orders": [crossing()]}, "self_trade"),
    ("self_trade", {}, {"crossing_orders": [crossing(account_id=4)]}, "same_owner_cross"),
    (
        "cancel_ratio",
        {},
        {"today_orders": 100, "today_cancels": 96},
        "cancel_ratio_exceeded",
    ),
    ("duplicate_order", {}, {"duplicate_within": lambda seconds: True}, "duplicate_order"),
    ("credit_limit", {}, {}, "credit_limit_exceeded"),  # zero account limit: no credit
    (
        "credit_limit",
        {},
        {"account_credit_limit": D("5000"), "account_open_notional": D("4500")},
        "credit_limit_exceeded",
    ),
    (
        "credit_limit",
        {},
        {"account_credit_limit": D("5000"), "limit_price": None, "reference_price": None},
        "no_price",
    ),
    ("decision_provenance", {}, {"metadata": {}}, "missing_provenance"),
    ("decision_provenance", {}, {"metadata": {"signal_id": "  "}}, "missing_provenance"),
    ("decision_provenance", {}, {"metadata": {"signal_id": 7}}, "missing_provenance"),
    (
        "decision_provenance",
        {"max_risk_score": "0.4"},
        {},
        "risk_score_too_high",
    ),
    (
        "decision_provenance",
        {"max_risk_score": "0.9"},
        {"metadata": {"signal_id": "s", "risk_score": "high"}},
        "invalid_risk_score",
    ),
    (
        "decision_provenance",
        {"max_risk_score": "0.9"},
        {"metadata": {"signal_id": "s", "risk_score": 0.42}},  # a float, not a string
        "invalid_risk_score",
    ),
    (
        "decision_provenance",
        {"max_risk_score": "0.9"},
        {"metadata": {"signal_id": "s", "risk_score": "NaN"}},
        "invalid_risk_score",
    ),
    (
        "decision_provenance",
        {"max_risk_score": "0.9"},
        {"metadata": {"signal_id": "s"}},
        "missing_risk_score",
    ),
    (
        "decision_provenance",
        {},
        {"metadata": {"signal_id": "s", "decision": "override_limits"}},
        "forbidden_decision",
    ),
    (
        "decision_provenance",
        {"require_review_flag_above_score": "0.3"},
        {"metadata": {"signal_id": "s", "risk_score": "0.42", "reviewed": "yes"}},
        "review_required",
    ),
    ("short_sale", {}, {**SHORT, "metadata": {}}, "locate_missing"),
    ("short_sale", {}, {**SHORT, "metadata": {"locate_id": "seven"}}, "locate_missing"),
    ("short_sale", {}, {**SHORT, "locate": None}, "locate_missing"),  # not the account's
    ("short_sale", {}, {**SHORT, "metadata": {"locate_id": 8}}, "locate_missing"),
    (
        "short_sale",
        {},
        {**SHORT, "locate": replace(LOCATE, expires_at=NOW)},
        "locate_missing",
    ),
    ("short_sale", {}, {**SHORT, "locate": replace(LOCATE, instrument_id=2)}, "locate_missing"),
    ("short_sale", {}, {**SHORT, "quantity": D("201")}, "locate_missing"),  # 200 left
    ("sale_marking", {}, {"side": "sell"}, "mismarked_short"),  # holds nothing
    ("sale_marking", {}, {"side": "sell", "position": D("-50")}, "mismarked_short"),
    (
        "sale_marking",
        {},
        {"side": "sell", "position": D("150"), "working_sell": D("100")},
        "mismarked_short",
    ),
    (
        "firm_capital",
        {"max_notional": "100000"},
        {"firm_used": D("99000.01"), **FIRM},
        "firm_capital_exceeded",
    ),
    (
        "firm_capital",
        {"max_notional": "100000"},
        {"limit_price": None, "reference_price": None, **FIRM},
        "no_price",
    ),
    (
        "firm_capital",
        {"max_notional": "100000"},
        {"firm_fx_missing": frozenset({"JPY"}), **FIRM},
        "fx_rate_unavailable",
    ),
    (
        "firm_capital",
        {"max_notional": "100000"},
        {"fx_rate_firm": None, **FIRM},
        "fx_rate_unavailable",
    ),
]


def _id(case) -> str:
    return f"{case[0]}-{case[-1]}" if len(case) == 4 else case[0]


@pytest.mark.parametrize(("rule_type", "params", "overrides"), PASSING, ids=map(_id, PASSING))
def test_passes(rule_type, params, overrides):
    outcome = run(rule_type, params, **overrides)
    assert outcome.passed, outcome.message
    assert not outcome.skipped
    assert outcome.code == ""
    assert outcome.message.endswith(".")


@pytest.mark.parametrize(
    ("rule_type", "params", "overrides", "code"), FAILING, ids=map(_id, FAILING)
)
def test_fails(rule_type, params, overrides, code):
    outcome = run(rule_type, params, **overrides)
    assert not outcome.passed
    assert outcome.code == code, outcome.message
    assert outcome.message.endswith(".")


def test_tables_cover_every_rule_type():
    assert {case[0] for case in PASSING} == set(RuleType.values)
    assert {case[0] for case in FAILING} == set(RuleType.values)


@pytest.mark.parametrize(("rule_type", "params", "overrides"), PASSING, ids=map(_id, PASSING))
def test_validate_is_idempotent(rule_type, params, overrides):
    """Stored (normalized) parameters validate to themselves."""
    module = REGISTRY[rule_type]
    normalized = module.validate(params)
    assert module.validate(normalized) == normalized


# --- details the tables do not show -----------------------------------------------------------


def test_price_collar_message_and_values():
    outcome = run("price_collar", {}, limit_price=D("210"), reference_price=D("189.5"))
    assert outcome.code == "price_outside_collar"
    assert outcome.message == "Limit 210 is 10.82% from the reference 189.5; the collar is 5%."
    assert (outcome.observed, outcome.threshold) == ("10.82", "5")


def test_price_collar_rounds_a_failing_deviation_up():
    # 5.001% must not read as "5%" in a failure.
    outcome = run("price_collar", {}, limit_price=D("10.5001"))
    assert not outcome.passed
    assert outcome.observed == "5.01"


def test_price_collar_judges_a_market_order_at_its_protected_price():
    # Never skipped for want of a limit: the buy's worst price is 10 x 1.05.
    outcome = run("price_collar", {}, order_type="market", limit_price=None)
    assert outcome.passed and not outcome.skipped
    assert outcome.message == (
        "Market order protected at 10.5, 5% from the reference 10; the collar is 5%."
    )
    assert (outcome.observed, outcome.threshold) == ("5", "5")
    sell = run(
        "price_collar", {"market_band_pct": "2"}, order_type="market", limit_price=None, side="sell"
    )
    assert sell.passed and sell.message.startswith("Market order protected at 9.8, 2% ")


def test_a_tighter_collar_fails_the_band_a_market_order_carries():
    # The order carries the 5% band of another collar; a 2% collar (say, in testing) fails it.
    outcome = run(
        "price_collar",
        {"max_deviation_pct": "2"},
        order_type="market",
        limit_price=None,
        market_band_pct=D("5"),
    )
    assert not outcome.passed and outcome.code == "price_outside_collar"
    assert (outcome.observed, outcome.threshold) == ("5", "2")


def test_a_market_buy_is_valued_at_its_protected_price():
    ctx = make_ctx(order_type="market", limit_price=None, market_band_pct=D("5"))
    assert ctx.price == D("10.5") and ctx.notional == D("1050")
    sell = make_ctx(order_type="market", limit_price=None, side="sell", market_band_pct=D("5"))
    assert sell.price == D("9.5")
    # A limit order is valued at its limit, whatever the band.
    assert make_ctx(market_band_pct=D("5")).price == D("10")
    # Over a 1,000 maximum: 100 at 10.5 is 1,050, though the reference alone would say 1,000.
    assert (
        not REGISTRY["max_notional"]
        .evaluate(
            REGISTRY["max_notional"].validate({"max_notional": "1000"}),
            make_ctx(order_type="market", limit_price=None, market_band_pct=D("5")),
        )
        .passed
    )


def test_price_collar_age_limit_is_a_parameter():
    as_of = NOW - timedelta(seconds=301)
    assert run("price_collar", {"max_age_seconds": 600}, reference_as_of=as_of).passed
    assert run("price_collar", {}, reference_as_of=NOW - timedelta(seconds=300)).passed


@pytest.mark.parametrize("rule_type", ["price_reasonability"])
def test_price_reasonability_skips_market_orders(rule_type):
    outcome = run(rule_type, {"max_price": "5"}, order_type="market", limit_price=None)
    assert outcome.passed and outcome.skipped


def test_restricted_list_message_names_target_and_reason():
    entries = [
        {"kind": "issuer", "target": "Apple Inc.", "reason": "deal team"},
        {"kind": "instrument", "target": "AAPL", "reason": "MNPI"},
    ]
    outcome = run("restricted_list", {}, restrictions=entries)
    assert outcome.code == "restricted_issuer"
    assert "Apple Inc." in outcome.message and "deal team" in outcome.message
    assert "1 more" in outcome.message


def test_trading_hours_asks_the_instruments_calendar_then_its_mic():
    asked = []

    def is_open(calendar, when):
        asked.append((calendar, when))
        return True

    assert run("trading_hours", {}, is_open=is_open).passed
    assert run("trading_hours", {}, is_open=is_open, calendar="XNYS").passed
    assert asked == [("XNAS", NOW), ("XNYS", NOW)]


def test_trading_hours_pre_open():
    def opens_in_20_minutes(calendar, when):
        return when >= NOW + timedelta(minutes=20)

    closed = run("trading_hours", {}, is_open=opens_in_20_minutes)
    assert closed.code == "market_closed"
    assert run("trading_hours", {"allow_pre_open": True}, is_open=opens_in_20_minutes).passed

    def opens_in_2_hours(calendar, when):
        return when >= NOW + timedelta(hours=2)

    late = run("trading_hours", {"allow_pre_open": True}, is_open=opens_in_2_hours)
    assert late.code == "market_closed"


def test_duplicate_order_asks_for_its_window():
    asked = []
    run("duplicate_order", {"window_seconds": 30}, duplicate_within=asked.append)
    assert asked == [30]


def test_concentration_values():
    outcome = run(
        "concentration", {"max_pct": "10"}, exposure_by_instrument={1: D("1000"), 2: D("9000")}
    )
    # (1000 + 1000) / (10000 + 1000)
    assert (outcome.observed, outcome.threshold) == ("18.19", "10")


def test_sector_concentration_counts_the_order_instrument_when_unmapped():
    ctx = {
        "exposure_by_instrument": {1: D("3000"), 2: D("1000")},
        "sector_by_instrument": {2: "Energy"},
    }
    outcome = run("sector_concentration", {"max_pct": "75"}, **ctx)
    # (3000 + 1000) / 5000 = 80%
    assert outcome.code == "sector_concentration_limit"
    assert outcome.observed == "80"


def test_position_limit_uses_the_projected_worst_case():
    # A sell against a long reduces the position: 500 - 100 = 400.
    outcome = run("position_limit", {"max_quantity": "450"}, side="sell", position=D("500"))
    assert outcome.passed
    assert outcome.observed == "400"


def test_credit_limit_counts_fills_and_working_orders():
    outcome = run(
        "credit_limit",
        {},
        account_credit_limit=D("5000"),
        account_open_notional=D("2000"),
        today_filled_notional=D("1500"),
    )
    assert outcome.passed
    assert (outcome.observed, outcome.threshold) == ("4500", "5000")


def test_decision_provenance_allows_review_when_reviewed():
    params = {"require_review_flag_above_score": "0.3"}
    meta = {"signal_id": "s", "risk_score": "0.42", "reviewed": True}
    assert run("decision_provenance", params, metadata=meta).passed


# --- validate() errors ------------------------------------------------------------------------


@pytest.mark.parametrize("rule_type", RuleType.values)
def test_unknown_parameter_is_refused(rule_type):
    with pytest.raises(ParameterError, match="unknown parameters: bogus"):
        REGISTRY[rule_type].validate({"bogus": "1"})


INVALID = [
    # floats are refused: decimals travel as strings
    ("order_size", {"max_quantity": 100.0}, "max_quantity"),
    ("max_notional", {"max_notional": 1.5}, "max_notional"),
    ("approval_threshold", {"notional": 5000.0}, "notional"),
    ("price_collar", {"max_deviation_pct": 5.0}, "max_deviation_pct"),
    ("price_reasonability", {"max_price": 1000.0}, "max_price"),
    ("quantity_reasonability", {"max_quantity": 1e6}, "max_quantity"),
    ("position_limit", {"max_value": 1e6}, "max_value"),
    ("gross_notional", {"max_gross_notional": 1e6}, "max_gross_notional"),
    ("concentration", {"max_pct": 25.0}, "max_pct"),
    ("sector_concentration", {"min_portfolio_value": 0.0}, "min_portfolio_value"),
    ("daily_volume", {"max_notional": 1e6}, "max_notional"),
    ("cancel_ratio", {"max_ratio": 0.95}, "max_ratio"),
    ("credit_limit", {"use_account_limit": False, "max_credit": 1e6}, "max_credit"),
    ("decision_provenance", {"max_risk_score": 0.9}, "max_risk_score"),
    # wrong types and values
    ("order_size", {"max_quantity": "lots"}, "max_quantity"),
    ("order_size", {"max_quantity": "100", "whole_lots": "yes"}, "whole_lots"),
    ("market_access", {"default": "maybe"}, "default"),
    ("market_access", {"accounts": ["ACC-001"]}, "accounts"),
    ("market_access", {"accounts": {"ACC-001": ["equity"]}}, "accounts.ACC-001"),
    ("market_access", {"accounts": {"ACC-001": {"asset_class": ["x"]}}}, "accounts.ACC-001"),
    ("market_access", {"accounts": {"ACC-001": {"instruments": "AAPL"}}}, "instruments"),
    ("market_access", {"users": {"trader": {}}}, "users.trader: accounts is required"),
    ("trading_hours", {"allow_pre_open": "yes"}, "allow_pre_open"),
    ("price_collar", {"max_deviation_pct": "0"}, "max_deviation_pct"),
    ("price_collar", {"market_band_pct": "0"}, "market_band_pct must be greater than zero"),
    ("price_collar", {"market_band_pct": "6"}, "market_band_pct must not exceed max_deviation"),
    ("price_collar", {"max_deviation_pct": "200", "market_band_pct": "100"}, "at most 99"),
    ("price_collar", {"max_age_seconds": "soon"}, "max_age_seconds"),
    ("price_collar", {"max_age_seconds": 0}, "max_age_seconds"),
    ("price_collar", {"max_age_seconds": True}, "max_age_seconds"),
    ("price_reasonability", {}, "max_price is required"),
    ("price_reasonability", {"max_price": "Infinity"}, "max_price"),
    ("quantity_reasonability", {}, "max_quantity is required"),
    ("quantity_reasonability", {"max_quantity": "-5"}, "max_quantity"),
    ("position_limit", {}, "max_quantity or max_value"),
    ("gross_notional", {}, "max_gross_notional is required"),
    ("concentration", {"max_pct": "150"}, "max_pct"),
    ("sector_concentration", {"min_portfolio_value": "-1"}, "min_portfolio_value"),
    ("daily_volume", {}, "max_quantity or max_notional"),
    ("order_rate", {"max_per_minute": 0}, "max_per_minute"),
    ("order_rate", {"max_per_minute": "1.5"}, "max_per_minute"),
    ("cancel_ratio", {"min_orders": 0}, "min_orders"),
    ("cancel_ratio", {"exempt_market_makers": "yes"}, "exempt_market_makers"),
    ("message_rate", {}, "max_per_second or max_per_minute"),
    ("message_rate", {"max_per_minute": 0}, "max_per_minute"),
    ("message_rate", {"max_per_second": 1.5}, "max_per_second"),
    ("message_rate", {"max_per_minute": 10, "per": "desk"}, "per must be one of"),
    ("message_rate", {"max_per_second": 20, "max_per_minute": 10}, "must not exceed"),
    ("self_trade", {"same_owner": "yes"}, "same_owner"),
    ("duplicate_order", {"window_seconds": [5]}, "window_seconds"),
    ("credit_limit", {"use_account_limit": "no"}, "use_account_limit"),
    ("credit_limit", {"use_account_limit": False}, "max_credit is required"),
    ("credit_limit", {"max_credit": "1000"}, "max_credit applies only"),
    ("decision_provenance", {"require_any_of": "signal_id"}, "require_any_of"),
    ("decision_provenance", {"forbidden_decisions": [1]}, "forbidden_decisions"),
    # min above max
    ("order_size", {"min_quantity": "10", "max_quantity": "5"}, "min_quantity must not exceed"),
    ("price_reasonability", {"min_price": "10", "max_price": "5"}, "min_price must not exceed"),
]


@pytest.mark.parametrize(("rule_type", "params", "fragment"), INVALID)
def test_invalid_parameters(rule_type, params, fragment):
    with pytest.raises(ParameterError) as excinfo:
        REGISTRY[rule_type].validate(params)
    assert fragment in str(excinfo.value)


NORMALIZED = [
    ("restricted_list", {}, {}),
    (
        "market_access",
        {"accounts": {"A": {"instruments": ["AAPL"]}}},
        {
            "accounts": {"A": {"asset_classes": [], "instruments": ["AAPL"]}},
            "users": {},
            "default": "deny",
        },
    ),
    ("trading_hours", {}, {"allow_pre_open": False}),
    (
        "price_collar",
        {"max_age_seconds": "60"},
        {"max_deviation_pct": "5", "max_age_seconds": 60, "market_band_pct": "5"},
    ),
    (
        "price_collar",
        {"max_deviation_pct": "3", "market_band_pct": "1.5"},
        {"max_deviation_pct": "3", "max_age_seconds": 300, "market_band_pct": "1.5"},
    ),
    ("price_reasonability", {"max_price": 1000}, {"min_price": "0.0001", "max_price": "1000"}),
    ("quantity_reasonability", {"max_quantity": "1e6"}, {"max_quantity": "1E+6"}),
    ("position_limit", {"max_value": "5", "max_quantity": None}, {"max_value": "5"}),
    ("concentration", {}, {"max_pct": "25", "min_portfolio_value": "0"}),
    ("sector_concentration", {}, {"max_pct": "40", "min_portfolio_value": "0"}),
    ("daily_volume", {"max_quantity": "10"}, {"max_quantity": "10"}),
    ("order_rate", {}, {"max_per_minute": 120}),
    ("cancel_ratio", {}, {"max_ratio": "0.95", "min_orders": 20, "exempt_market_makers": True}),
    ("message_rate", {"max_per_minute": "120"}, {"max_per_minute": 120, "per": "both"}),
    ("self_trade", {}, {"same_owner": True}),
    ("duplicate_order", {}, {"window_seconds": 5}),
    ("credit_limit", {}, {"use_account_limit": True}),
    (
        "decision_provenance",
        {},
        {
            "require_any_of": ["signal_id", "risk_check_id"],
            "forbidden_decisions": ["override_limits"],
        },
    ),
]


@pytest.mark.parametrize(("rule_type", "params", "expected"), NORMALIZED)
def test_validate_normalizes_with_defaults(rule_type, params, expected):
    assert REGISTRY[rule_type].validate(params) == expected


def test_restricted_list_message_ends_with_one_full_stop():
    entries = [{"kind": "issuer", "target": "SAP SE", "reason": "Pending acquisition."}]
    outcome = run("restricted_list", {}, restrictions=entries)
    assert outcome.message.endswith(": Pending acquisition.")


# --- short sales (Reg SHO) --------------------------------------------------------------------


def test_a_short_sale_marked_exempt_needs_no_locate_and_says_so():
    outcome = run("short_sale", {}, side="sell_short_exempt", metadata={}, locate=None)
    assert outcome.passed and not outcome.skipped
    assert outcome.code == "short_sale_exempt"
    assert "exempt" in outcome.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"side": "buy"},
        {"side": "sell"},
        {"side": "sell_short", "asset_class": "crypto", "mic": "XOFF"},
        {"side": "sell_short", "asset_class": "future", "mic": "XCME"},
        # A German share on Xetra in euros: Reg SHO's locate is not asked for.
        {"side": "sell_short", "mic": "XETR", "currency": "EUR"},
    ],
)
def test_the_locate_is_only_asked_of_short_sales_of_us_equities(overrides):
    outcome = run("short_sale", {}, metadata={}, **overrides)
    assert outcome.passed and outcome.skipped


@pytest.mark.parametrize(
    ("asset_class", "mic", "currency"),
    [("equity", "XNYS", "USD"), ("etf", "ARCX", "USD"), ("equity", "XLON", "USD")],
)
def test_a_us_equity_is_listed_in_the_us_or_quoted_in_dollars(asset_class, mic, currency):
    outcome = run(
        "short_sale",
        {},
        side="sell_short",
        metadata={},
        asset_class=asset_class,
        mic=mic,
        currency=currency,
    )
    assert outcome.code == "locate_missing"


def test_a_short_sale_names_what_its_locate_has_left():
    outcome = run("short_sale", {}, **SHORT, quantity=D("250"))
    assert (outcome.observed, outcome.threshold) == ("250", "200")
    assert "200 of 500 AAPL left" in outcome.message and "Prime Lending" in outcome.message


def test_sale_marking_leaves_short_sales_buys_and_other_asset_classes_alone():
    for side in ("buy", "sell_short", "sell_short_exempt"):
        assert run("sale_marking", {}, side=side).skipped
    # A future sold to open a short position is not a short sale.
    assert run("sale_marking", {}, side="sell", asset_class="future").skipped
    judged = run("sale_marking", {"asset_classes": ["future"]}, side="sell", asset_class="future")
    assert judged.code == "mismarked_short"


def test_sale_marking_says_what_the_account_holds():
    outcome = run("sale_marking", {}, side="sell", position=D("150"), working_sell=D("100"))
    assert (outcome.observed, outcome.threshold) == ("100", "50")
    assert "holds 50 AAPL" in outcome.message and "sell_short" in outcome.message


@pytest.mark.parametrize(
    "params", [{"asset_classes": ["equity", "shares"]}, {"asset_classes": []}, {"x": 1}]
)
def test_sale_marking_parameters_are_checked(params):
    with pytest.raises(ParameterError):
        REGISTRY["sale_marking"].validate(params)


# --- message limits, the market maker's cancel ratio, self-trades -------------------------------


def test_message_rate_names_the_limit_it_breaks():
    outcome = run(
        "message_rate",
        {"max_per_second": 5, "max_per_minute": 120},
        account_messages_last_minute=40,
        account_messages_last_second=5,
    )
    assert not outcome.passed and (outcome.observed, outcome.threshold) == ("6", "5")
    assert "message 6 of account ACC-001 in the last second" in outcome.message
    outcome = run("message_rate", {"max_per_minute": 120}, user_messages_last_minute=120)
    assert "message 121 of user trader in the last minute" in outcome.message


def test_message_rate_per_user_is_skipped_for_an_order_without_a_user():
    outcome = run("message_rate", {"max_per_minute": 1, "per": "user"}, submitted_by="")
    assert outcome.passed and outcome.skipped


def test_a_market_maker_is_exempt_from_the_cancel_ratio_unless_the_rule_says_otherwise():
    busy = {"today_orders": 100, "today_cancels": 99, "account_is_market_maker": True}
    exempt = run("cancel_ratio", {}, **busy)
    assert exempt.passed and exempt.skipped and "market maker" in exempt.message
    judged = run("cancel_ratio", {"exempt_market_makers": False}, **busy)
    assert not judged.passed and judged.code == "cancel_ratio_exceeded"


def test_self_trade_names_the_crossing_order_and_counts_the_others():
    outcome = run(
        "self_trade",
        {},
        crossing_orders=[crossing(account_id=4), crossing(id=78, client_order_id="mm-78")],
    )
    assert outcome.code == "same_owner_cross" and outcome.observed == "#77"
    assert "order #77 (mm-77, 50 open at 9.99, accepted)" in outcome.message
    assert "account ACC-004, of the same beneficial owner (Victor A. Hale)" in outcome.message
    assert "1 more would cross too" in outcome.message
    market = run(
        "self_trade", {}, crossing_orders=[crossing(order_type="market", limit_price=None)]
    )
    assert "at market" in market.message and market.code == "self_trade"
