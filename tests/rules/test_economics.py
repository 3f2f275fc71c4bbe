"""What an order is worth, as a compliance officer would check it through the API.

An option contract is 100 shares: 2,213 contracts at 12.35 commit 2,733,055, not 27,330.55.
A EUR order against a USD credit limit is converted at the latest rate, and without a fresh
rate the limit cannot be judged: rejected with fx_rate_unavailable, never accepted or held.
"""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.approvals.models import ApprovalRequest
from apps.rbac.roles import Role
from apps.trading.models import Order, WorkingExposure
from apps.trading.services import fx_rate_record, order_fill, reference_price_record
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import (
    AccountFactory,
    InstrumentFactory,
    OptionFactory,
    ReferencePriceFactory,
)

URL = "/api/v1/orders/"
CHECK = "/api/v1/pretrade/check/"
CONTRACTS, PREMIUM, OPTION_NOTIONAL = "2213", "12.35", "2733055"


@pytest.fixture
def option(db):
    """A listed call: 100 shares a contract, premium 12.35 a share."""
    call = OptionFactory(symbol="AAPL-C250", sector="Technology")
    ReferencePriceFactory(instrument=call, price=D(PREMIUM))
    return call


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def _option_order(cid: str, quantity: str = CONTRACTS, **overrides) -> dict:
    return order_body(
        cid, instrument="AAPL-C250", quantity=quantity, limit_price=PREMIUM, **overrides
    )


def _check(answer: dict, rule_type: str) -> dict:
    return next(c for c in answer["checks"] if c["rule_type"] == rule_type)


# --- the contract multiplier -------------------------------------------------------------------

VALUED = [
    ("max_notional", {"max_notional": "100000000"}),
    ("approval_threshold", {"notional": "100000000"}),
    ("credit_limit", {"use_account_limit": False, "max_credit": "100000000"}),
    ("gross_notional", {"max_gross_notional": "100000000"}),
    ("daily_volume", {"max_notional": "100000000"}),
    ("position_limit", {"max_value": "100000000"}),
    ("firm_capital", {"max_notional": "100000000"}),
]


@pytest.mark.parametrize(("rule_type", "params"), VALUED, ids=[v[0] for v in VALUED])
def test_every_rule_that_values_an_order_counts_the_multiplier(trader, option, rule_type, params):
    make_rule(rule_type, params)
    answer = trader.post(CHECK, _option_order("opt-1"), format="json").json()
    check = _check(answer, rule_type)
    assert check["status"] == "pass", check
    assert check["observed"] == OPTION_NOTIONAL, check  # 2,213 x 12.35 x 100


@pytest.mark.parametrize(
    ("rule_type", "params", "code"),
    [
        ("max_notional", {"max_notional": "2733054"}, "notional_above_max"),
        ("approval_threshold", {"notional": "2733054"}, "above_approval_threshold"),
        (
            "credit_limit",
            {"use_account_limit": False, "max_credit": "2733054"},
            "credit_limit_exceeded",
        ),
        ("gross_notional", {"max_gross_notional": "2733054"}, "gross_notional_limit"),
        ("daily_volume", {"max_notional": "2733054"}, "daily_volume_notional"),
        ("position_limit", {"max_value": "2733054"}, "position_value_limit"),
        ("firm_capital", {"max_notional": "2733054"}, "firm_capital_exceeded"),
    ],
)
def test_one_unit_under_the_option_notional_fails_each_rule(
    trader, option, rule_type, params, code
):
    make_rule(rule_type, params, action="hold" if rule_type == "approval_threshold" else "reject")
    answer = trader.post(CHECK, _option_order("opt-2"), format="json").json()
    assert _check(answer, rule_type)["code"] == code


def test_concentration_judges_the_option_book_at_its_real_size(trader, option):
    """Valued without the multiplier (27,330.55) the book would be too small to judge."""
    make_rule("concentration", {"max_pct": "50", "min_portfolio_value": OPTION_NOTIONAL})
    make_rule("sector_concentration", {"max_pct": "50", "min_portfolio_value": OPTION_NOTIONAL})
    answer = trader.post(CHECK, _option_order("opt-3"), format="json").json()
    assert _check(answer, "concentration")["code"] == "concentration_limit"
    assert _check(answer, "sector_concentration")["code"] == "sector_concentration_limit"


def test_a_book_below_the_floor_is_still_not_judged(trader, option):
    """The look-alike: one contract fewer than the floor needs is not a concentration."""
    make_rule("concentration", {"max_pct": "50", "min_portfolio_value": "2733056"})
    answer = trader.post(CHECK, _option_order("opt-4"), format="json").json()
    assert _check(answer, "concentration")["status"] == "pass"


def test_a_20000_contract_order_is_rejected_by_max_notional(trader, option):
    make_rule("max_notional", {"max_notional": "1000000"})
    answer = trader.post(URL, _option_order("opt-big", quantity="20000"), format="json").json()
    assert answer["status"] == "rejected"
    check = _check(answer, "max_notional")
    assert (check["observed"], check["code"]) == ("24700000", "notional_above_max")
    assert "24700000 USD" in check["message"]


def test_800_contracts_within_max_notional_pass(trader, option):
    make_rule("max_notional", {"max_notional": "1000000"})
    answer = trader.post(URL, _option_order("opt-small", quantity="800"), format="json").json()
    assert answer["status"] == "accepted"
    assert _check(answer, "max_notional")["observed"] == "988000"


def test_working_exposure_counts_the_multiplier(trader, option):
    answer = trader.post(URL, _option_order("opt-w"), format="json").json()
    assert answer["status"] == "accepted"
    row = WorkingExposure.objects.get(instrument=option)
    assert (row.buy_quantity, row.buy_notional) == (D(CONTRACTS), D(OPTION_NOTIONAL))
    trader.post(f"{URL}{answer['id']}/cancel/", {}, format="json")
    row.refresh_from_db()
    assert (row.buy_quantity, row.buy_notional) == (0, 0)


def test_a_filled_option_position_is_valued_with_its_multiplier(trader, option):
    order = Order.objects.get(
        pk=trader.post(URL, _option_order("opt-f"), format="json").json()["id"]
    )
    order_fill(
        order=order,
        exec_id="opt-x1",
        quantity=CONTRACTS,
        price=PREMIUM,
        venue="XCBO",
        executed_at=timezone.now(),
        liquidity="removed",
    )
    make_rule("gross_notional", {"max_gross_notional": "100000000"})
    make_rule("credit_limit", {"use_account_limit": False, "max_credit": "100000000"})
    answer = trader.post(CHECK, order_body("after-fill", quantity="1"), format="json").json()
    # the position (2,213 x 12.35 x 100) and the new 1 x 100 AAPL order
    assert _check(answer, "gross_notional")["observed"] == "2733155"
    # today's filled notional counts against credit the same way
    assert _check(answer, "credit_limit")["observed"] == "2733155"


# --- currencies ------------------------------------------------------------------------------


@pytest.fixture
def bund(db):
    """A EUR instrument at 100."""
    instrument = InstrumentFactory(symbol="SAP-T", currency="EUR", mic="XETR")
    ReferencePriceFactory(instrument=instrument, price=D("100"))
    return instrument


def _eur_order(cid: str, quantity: str) -> dict:
    return order_body(cid, instrument="SAP-T", quantity=quantity, limit_price="100")


def _credit(limit: str = "1000000"):
    return make_rule("credit_limit", {"use_account_limit": False, "max_credit": limit})


def test_a_eur_order_is_converted_into_the_usd_credit_limit(trader, bund):
    fx_rate_record(base="EUR", quote="USD", rate="1.1")
    _credit()
    # 9,000 x 100 EUR = 900,000 EUR = 990,000 USD: within 1,000,000 USD
    inside = trader.post(URL, _eur_order("eur-1", "9000"), format="json").json()
    assert inside["status"] == "accepted"
    check = _check(inside, "credit_limit")
    assert check["observed"] == "990000"
    assert "990000 USD (900000 EUR at 1.1)" in check["message"]


def test_a_eur_order_that_fits_one_for_one_but_not_converted_is_rejected(trader, bund):
    fx_rate_record(base="EUR", quote="USD", rate="1.1")
    _credit()
    # 920,000 EUR would pass a 1,000,000 limit one for one; it is 1,012,000 USD
    answer = trader.post(URL, _eur_order("eur-2", "9200"), format="json").json()
    assert answer["status"] == "rejected"
    check = _check(answer, "credit_limit")
    assert (check["code"], check["observed"]) == ("credit_limit_exceeded", "1012000")


def test_the_inverse_rate_converts_too(trader, bund):
    fx_rate_record(base="USD", quote="EUR", rate="0.8")  # 1 EUR = 1.25 USD
    _credit()
    answer = trader.post(CHECK, _eur_order("eur-3", "1000"), format="json").json()
    assert _check(answer, "credit_limit")["observed"] == "125000"


def test_the_latest_of_the_pair_and_its_inverse_wins(trader, bund):
    now = timezone.now()
    fx_rate_record(base="EUR", quote="USD", rate="1.1", as_of=now - timedelta(hours=2))
    fx_rate_record(base="USD", quote="EUR", rate="0.8", as_of=now - timedelta(hours=1))
    fx_rate_record(base="EUR", quote="USD", rate="1.2", as_of=now - timedelta(hours=3))
    _credit()
    answer = trader.post(CHECK, _eur_order("eur-4", "1000"), format="json").json()
    assert _check(answer, "credit_limit")["observed"] == "125000"


def test_a_cross_goes_through_the_firm_currency(api_client_for, bund, instrument):
    """A GBP account buying a EUR instrument: EUR -> USD -> GBP."""
    AccountFactory(code="ACC-GBP", base_currency="GBP")
    fx_rate_record(base="EUR", quote="USD", rate="1.1")
    fx_rate_record(base="GBP", quote="USD", rate="1.25")
    _credit()
    trader = api_client_for(Role.TRADER)
    answer = trader.post(
        CHECK, {**_eur_order("gbp-1", "1000"), "account": "ACC-GBP"}, format="json"
    ).json()
    # 100,000 EUR x 1.1 / 1.25 = 88,000 GBP
    check = _check(answer, "credit_limit")
    assert check["observed"] == "88000" and "GBP" in check["message"]


def test_a_missing_rate_rejects_with_fx_rate_unavailable(trader, bund):
    _credit()
    answer = trader.post(URL, _eur_order("eur-5", "1"), format="json").json()
    assert answer["status"] == "rejected"
    check = _check(answer, "credit_limit")
    assert (check["status"], check["code"]) == ("fail", "fx_rate_unavailable")
    assert "EUR into USD" in check["message"]


def test_a_stale_rate_rejects_with_fx_rate_unavailable(trader, bund, settings):
    settings.FX_RATE_MAX_AGE_SECONDS = 3600
    old = timezone.now() - timedelta(seconds=3601)
    fx_rate_record(base="EUR", quote="USD", rate="1.1", as_of=old)
    _credit()
    answer = trader.post(URL, _eur_order("eur-6", "1"), format="json").json()
    assert answer["status"] == "rejected"
    assert _check(answer, "credit_limit")["code"] == "fx_rate_unavailable"


def test_a_rate_just_within_its_age_still_converts(trader, bund, settings):
    settings.FX_RATE_MAX_AGE_SECONDS = 3600
    fx_rate_record(
        base="EUR", quote="USD", rate="1.1", as_of=timezone.now() - timedelta(seconds=3500)
    )
    _credit()
    answer = trader.post(URL, _eur_order("eur-7", "1"), format="json").json()
    assert answer["status"] == "accepted"


def test_without_a_rate_a_hold_or_warn_rule_rejects_rather_than_holds(trader, bund):
    make_rule("approval_threshold", {"notional": "5"}, action="hold")
    make_rule("max_notional", {"max_notional": "1000000"}, action="warn")
    answer = trader.post(URL, _eur_order("eur-8", "1"), format="json").json()
    assert answer["status"] == "rejected"
    codes = {c["rule_type"]: (c["code"], c["action"]) for c in answer["checks"]}
    assert codes["approval_threshold"] == ("fx_rate_unavailable", "reject")
    assert codes["max_notional"] == ("fx_rate_unavailable", "reject")
    assert answer["approval"] is None
    assert not ApprovalRequest.objects.filter(order_id=answer["id"]).exists()


def test_a_shadow_rule_only_records_a_missing_rate(trader, bund):
    make_rule("max_notional", {"max_notional": "1000000"}, status="testing")
    answer = trader.post(URL, _eur_order("eur-9", "1"), format="json").json()
    assert answer["status"] == "accepted"
    assert _check(answer, "max_notional")["status"] == "warn"


def test_a_usd_order_on_a_usd_account_needs_no_rate(trader):
    """The look-alike: nothing to convert, so no rate is asked for."""
    _credit()
    make_rule("gross_notional", {"max_gross_notional": "1000000"})
    answer = trader.post(URL, order_body("usd-1"), format="json").json()
    assert answer["status"] == "accepted"


def test_an_unconvertible_eur_position_stops_account_wide_limits_only(trader, bund):
    """A USD order on an account holding EUR: the gross limit adds the EUR up and fails
    closed; the per-order limit needs no rate and passes."""
    fx_rate_record(base="EUR", quote="USD", rate="1.1", as_of=timezone.now() - timedelta(days=3))
    order = Order.objects.get(
        pk=trader.post(URL, _eur_order("eur-10", "10"), format="json").json()["id"]
    )
    assert order.status == "accepted"  # no rule yet
    make_rule("gross_notional", {"max_gross_notional": "1000000"})
    make_rule("max_notional", {"max_notional": "1000000"})
    answer = trader.post(URL, order_body("usd-2"), format="json").json()
    assert answer["status"] == "rejected"
    assert _check(answer, "gross_notional")["code"] == "fx_rate_unavailable"
    assert _check(answer, "max_notional")["status"] == "pass"


def test_a_eur_account_values_a_usd_option_in_eur(api_client_for, option):
    AccountFactory(code="ACC-EUR", base_currency="EUR")
    fx_rate_record(base="EUR", quote="USD", rate="1.25")
    make_rule("max_notional", {"max_notional": "2000000"})
    trader = api_client_for(Role.TRADER)
    answer = trader.post(CHECK, {**_option_order("eur-opt"), "account": "ACC-EUR"}, format="json")
    check = _check(answer.json(), "max_notional")
    # 2,733,055 USD / 1.25 = 2,186,444 EUR
    assert (check["observed"], check["code"]) == ("2186444", "notional_above_max")
    assert "2186444 EUR (2733055 USD at 0.8)" in check["message"]


# --- the firm-wide capital threshold -----------------------------------------------------------


def test_firm_capital_adds_up_every_account(api_client_for, account, instrument, bund):
    fx_rate_record(base="EUR", quote="USD", rate="1.1")
    other = AccountFactory(code="ACC-T2")
    trader = api_client_for(Role.TRADER)
    # ACC-T2 works 500,000 EUR (550,000 USD); ACC-T1 filled 100,000 USD today
    assert trader.post(URL, {**_eur_order("f-1", "5000"), "account": other.code}, format="json")
    first = trader.post(URL, order_body("f-2", quantity="1000"), format="json").json()
    order_fill(
        order=Order.objects.get(pk=first["id"]),
        exec_id="f-x",
        quantity="1000",
        price="100",
        venue="XNYS",
        executed_at=timezone.now(),
        liquidity="added",
    )
    make_rule("firm_capital", {"max_notional": "1000000"}, regulation="SEC 15c3-5(c)(1)(i)")
    # 550,000 + 100,000 + 400,000 = 1,050,000 USD: above the firm's 1,000,000
    over = trader.post(URL, order_body("f-3", quantity="4000"), format="json").json()
    assert over["status"] == "rejected"
    check = _check(over, "firm_capital")
    assert (check["code"], check["observed"]) == ("firm_capital_exceeded", "1050000")
    # 550,000 + 100,000 + 300,000 = 950,000 USD: within
    inside = trader.post(URL, order_body("f-4", quantity="3000"), format="json").json()
    assert inside["status"] == "accepted"
    assert _check(inside, "firm_capital")["observed"] == "950000"


def test_firm_capital_does_not_count_an_amended_order_twice(trader):
    make_rule("firm_capital", {"max_notional": "150000"})
    first = trader.post(URL, order_body("a-1", quantity="1000"), format="json").json()
    assert first["status"] == "accepted"
    # 100,000 working; amended to 1,400 it is 140,000, not 240,000
    amended = trader.post(f"{URL}{first['id']}/amend/", {"quantity": "1400"}, format="json")
    assert amended.json()["decision"] == "accepted", amended.json()
    assert _check(amended.json(), "firm_capital")["observed"] == "140000"


def test_firm_capital_without_a_rate_for_a_working_currency_fails_closed(api_client_for, bund):
    AccountFactory(code="ACC-T3")
    trader = api_client_for(Role.TRADER)
    fx_rate_record(base="EUR", quote="USD", rate="1.1", as_of=timezone.now() - timedelta(days=2))
    trader.post(URL, {**_eur_order("m-1", "10"), "account": "ACC-T3"}, format="json")
    make_rule("firm_capital", {"max_notional": "100000000"})
    reference_price_record(instrument=InstrumentFactory(symbol="KO-T"), price="10")
    body = {**order_body("m-2"), "account": "ACC-T3", "instrument": "KO-T", "limit_price": "10"}
    answer = trader.post(URL, body, format="json").json()
    assert answer["status"] == "rejected"
    assert _check(answer, "firm_capital")["code"] == "fx_rate_unavailable"


def _eur_rate_recorded_50_minutes_ago(settings) -> None:
    settings.FX_RATE_MAX_AGE_SECONDS = 3600
    as_of = timezone.now() - timedelta(minutes=50)
    fx_rate_record(base="EUR", quote="USD", rate="1.1", as_of=as_of)


def _eur_rate_grows_stale(settings) -> None:
    settings.FX_RATE_MAX_AGE_SECONDS = 1800  # the 50-minute-old rate is now too old


def _eur_order_ended(client, cid: str, account: str | None = None) -> None:
    """A EUR order sent while its rate was fresh, then canceled: it leaves a zero row."""
    body = {**_eur_order(cid, "10"), **({"account": account} if account else {})}
    sent = client.post(URL, body, format="json").json()
    assert sent["status"] == "accepted", sent["checks"]
    assert client.post(f"{URL}{sent['id']}/cancel/", {}, format="json").status_code == 200


def test_a_currency_the_account_no_longer_holds_needs_no_rate(trader, bund, settings):
    """A canceled EUR order leaves the account's EUR exposure at zero: once the EUR rate has
    gone stale, the account's USD orders still pass its credit limit (nothing to convert)."""
    _eur_rate_recorded_50_minutes_ago(settings)
    _credit()
    _eur_order_ended(trader, "z-1")
    _eur_rate_grows_stale(settings)
    answer = trader.post(URL, order_body("z-2", quantity="10"), format="json").json()
    assert answer["status"] == "accepted", _check(answer, "credit_limit")
    # a EUR order itself still needs the rate (fail closed)
    still_eur = trader.post(URL, _eur_order("z-3", "10"), format="json").json()
    assert _check(still_eur, "credit_limit")["code"] == "fx_rate_unavailable"


def test_firm_capital_ignores_a_currency_nobody_holds_any_more(
    api_client_for, account, instrument, bund, settings
):
    _eur_rate_recorded_50_minutes_ago(settings)
    AccountFactory(code="ACC-T4")
    trader = api_client_for(Role.TRADER)
    _eur_order_ended(trader, "z-4", account="ACC-T4")
    _eur_rate_grows_stale(settings)
    make_rule("firm_capital", {"max_notional": "100000000"})
    answer = trader.post(URL, order_body("z-5", quantity="10"), format="json").json()
    assert answer.get("status") == "accepted", answer
