"""Every rule type's validate() and evaluate(): pure unit tests, no database."""

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.rules.checks import REGISTRY
from apps.rules.checks.base import CheckContext, InstrumentInfo, OrderIntent, ParameterError
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


def test_price_collar_skips_market_orders_with_a_fresh_reference():
    outcome = run("price_collar", {}, order_type="market", limit_price=None)
    assert outcome.passed and outcome.skipped


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
    ("price_collar", {"max_age_seconds": "60"}, {"max_deviation_pct": "5", "max_age_seconds": 60}),
    ("price_reasonability", {"max_price": 1000}, {"min_price": "0.0001", "max_price": "1000"}),
    ("quantity_reasonability", {"max_quantity": "1e6"}, {"max_quantity": "1E+6"}),
    ("position_limit", {"max_value": "5", "max_quantity": None}, {"max_value": "5"}),
    ("concentration", {}, {"max_pct": "25", "min_portfolio_value": "0"}),
    ("sector_concentration", {}, {"max_pct": "40", "min_portfolio_value": "0"}),
    ("daily_volume", {"max_quantity": "10"}, {"max_quantity": "10"}),
    ("order_rate", {}, {"max_per_minute": 120}),
    ("cancel_ratio", {}, {"max_ratio": "0.95", "min_orders": 20}),
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
