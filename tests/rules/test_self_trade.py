"""Self-trade and same-owner cross prevention, as a compliance officer tries it through the API:
the crosses that must be stopped, naming the order, and the look-alikes that must pass."""

import pytest

from apps.rbac.roles import Role
from apps.rules import gate
from apps.rules.models import ComplianceRule
from apps.trading.models import Order
from tests.rules.factories import make_rule, order_body, report_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, db):
    # Nadia Petrov's two accounts, her name written two ways; and someone else's account.
    AccountFactory(code="ACC-T1", beneficial_owner="Nadia Petrov")
    AccountFactory(code="ACC-T2", beneficial_owner="Petrov, Nadia")
    AccountFactory(code="ACC-X", beneficial_owner="Omar Haddad")
    for symbol, isin in (("AAPL", "US0378331005"), ("MSFT", "US5949181045")):
        ReferencePriceFactory(instrument=InstrumentFactory(symbol=symbol, isin=isin))
    make_rule("self_trade", {}, regulation="FINRA 5210.02")
    return api_client_for(Role.TRADER)


def send(client, cid: str, **fields) -> dict:
    response = client.post(URL, order_body(cid, **fields), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def resting_sell(client, cid: str = "rest-sell", **fields) -> dict:
    answer = send(client, cid, **{"side": "sell", "limit_price": "100", **fields})
    assert answer["status"] == "accepted", answer["checks"]
    return answer


def self_trade_check(answer: dict) -> dict:
    return next(c for c in answer["checks"] if c["rule_type"] == "self_trade")


# --- crosses that are stopped ------------------------------------------------------------------


def test_a_buy_crossing_the_accounts_own_working_sell_is_rejected(trader):
    sell = resting_sell(trader)
    answer = send(trader, "buy-1", limit_price="100")  # at the sell's limit: it would trade
    assert answer["status"] == "rejected"
    check = self_trade_check(answer)
    assert check["code"] == "self_trade" and check["observed"] == f"#{sell['id']}"
    assert f"order #{sell['id']} (rest-sell" in check["message"]
    assert "of this account (ACC-T1)" in check["message"]


def test_a_buy_above_the_sell_and_a_market_buy_cross_too(trader):
    resting_sell(trader)
    assert send(trader, "above", limit_price="100.5")["status"] == "rejected"
    market = send(trader, "market", order_type="market", limit_price=None)
    assert market["status"] == "rejected"
    assert "This buy at market would cross" in self_trade_check(market)["message"]


def test_a_sell_at_or_below_a_working_buy_is_rejected(trader):
    buy = send(trader, "rest-buy", limit_price="100")
    answer = send(trader, "sell-1", side="sell", limit_price="99.9")
    assert answer["status"] == "rejected"
    assert self_trade_check(answer)["observed"] == f"#{buy['id']}"


def test_a_cross_between_two_accounts_of_one_owner_is_rejected_naming_the_order(trader):
    """ACC-T1 and ACC-T2 belong to one owner, whose name each account's papers write
    differently ("Nadia Petrov", "Petrov, Nadia")."""
    sell = resting_sell(trader, account="ACC-T2")
    answer = send(trader, "buy-1", limit_price="100")
    assert answer["status"] == "rejected"
    check = self_trade_check(answer)
    assert check["code"] == "same_owner_cross" and check["observed"] == f"#{sell['id']}"
    assert "account ACC-T2, of the same beneficial owner (Nadia Petrov)" in check["message"]


def test_a_working_market_order_on_the_other_side_crosses_any_price(trader):
    market = send(trader, "mkt-sell", side="sell", order_type="market", limit_price=None)
    assert market["status"] == "accepted"
    answer = send(trader, "low-bid", account="ACC-T2", limit_price="80")
    assert self_trade_check(answer)["observed"] == f"#{market['id']}"


def test_a_held_order_is_working_and_is_crossed(trader):
    make_rule("approval_threshold", {"notional": "500"}, action="hold")
    held = send(trader, "held-sell", side="sell", limit_price="100")
    assert held["status"] == "pending_approval"
    answer = send(trader, "buy-1", account="ACC-T2", limit_price="100", quantity="1")
    assert answer["status"] == "rejected"
    assert "pending_approval" in self_trade_check(answer)["message"]


def test_the_rule_may_hold_instead_of_rejecting(trader):
    ComplianceRule.objects.filter(rule_type="self_trade").update(action="hold")
    gate.ruleset_bump()
    resting_sell(trader, account="ACC-T2")
    assert send(trader, "buy-1", limit_price="100")["status"] == "pending_approval"


def test_an_amendment_that_would_cross_is_refused_and_changes_nothing(trader):
    resting_sell(trader)
    bid = send(trader, "bid", limit_price="99")
    assert bid["status"] == "accepted"
    response = trader.post(f"{URL}{bid['id']}/amend/", {"limit_price": "100"}, format="json")
    answer = response.json()
    assert answer["amended"] is False and answer["decision"] == "rejected"
    assert self_trade_check(answer)["code"] == "self_trade"
    assert Order.objects.get(pk=bid["id"]).limit_price == 99


# --- look-alikes that must pass ----------------------------------------------------------------


def test_a_buy_below_the_working_sell_does_not_cross(trader):
    resting_sell(trader)
    answer = send(trader, "bid", limit_price="99.99")
    assert answer["status"] == "accepted"
    assert self_trade_check(answer)["status"] == "pass"


def test_another_owners_working_sell_is_not_a_self_trade(trader):
    resting_sell(trader, account="ACC-X")
    assert send(trader, "buy-1", limit_price="101")["status"] == "accepted"


def test_a_filled_opposite_order_crosses_nothing(trader):
    sell = resting_sell(trader)
    assert report_fill(trader, sell["id"])["order"]["status"] == "filled"
    assert send(trader, "buy-1", limit_price="100")["status"] == "accepted"


def test_a_canceled_opposite_order_crosses_nothing(trader):
    sell = resting_sell(trader, account="ACC-T2")
    assert trader.post(f"{URL}{sell['id']}/cancel/").status_code == 200
    assert send(trader, "buy-1", limit_price="100")["status"] == "accepted"


def test_an_order_in_another_instrument_does_not_cross(trader):
    resting_sell(trader, instrument="MSFT")
    assert send(trader, "buy-1", limit_price="100")["status"] == "accepted"


def test_orders_on_the_same_side_never_cross(trader):
    send(trader, "bid-1", limit_price="100")
    assert send(trader, "bid-2", account="ACC-T2", limit_price="101")["status"] == "accepted"


def test_amending_an_order_never_crosses_itself(trader):
    sell = resting_sell(trader)
    response = trader.post(f"{URL}{sell['id']}/amend/", {"limit_price": "99"}, format="json")
    assert response.json()["amended"] is True


def test_with_same_owner_off_only_the_accounts_own_orders_count(trader):
    ComplianceRule.objects.filter(rule_type="self_trade").update(parameters={"same_owner": False})
    gate.ruleset_bump()
    resting_sell(trader, account="ACC-T2")
    assert send(trader, "buy-1", limit_price="100")["status"] == "accepted"  # another account
    own = send(trader, "buy-2", account="ACC-T2", limit_price="100")  # its own sell
    assert own["status"] == "rejected" and self_trade_check(own)["code"] == "self_trade"
