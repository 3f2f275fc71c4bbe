"""Short sales through the gate (SEC Reg SHO 200(g), 203(b)): locates, marking, the book.

ACC-T1 trades AAPL (a US equity: XNYS, USD) at a reference of 100; the demo's two rules are on:
a short sale needs a locate (`short_sale`), a sale marked long must be of shares held
(`sale_marking`).
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.killswitch.models import KillSwitch
from apps.rbac.roles import Role
from apps.trading.models import Locate, Order, Position, WorkingExposure
from apps.trading.services import locate_record, order_cancel, order_fill
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

URL = "/api/v1/orders/"
_execs = iter(range(1, 10_000))


@pytest.fixture
def trader(api_client_for, account, instrument):
    make_rule("short_sale", {}, code="SHO-LOCATE", regulation="SEC Reg SHO 203(b)")
    make_rule("sale_marking", {}, code="SHO-MARKING", regulation="SEC Reg SHO 200(g)")
    return api_client_for(Role.TRADER)


def locate(account, instrument, quantity="500", **kwargs) -> Locate:
    return locate_record(
        account=account,
        instrument=instrument,
        lender=kwargs.pop("lender", "Prime Lending"),
        reference=kwargs.pop("reference", "PL-1"),
        quantity=Decimal(quantity),
        expires_at=kwargs.pop("expires_at", utcnow() + timedelta(hours=8)),
    )


def submit(client, client_order_id, **fields) -> dict:
    response = client.post(URL, order_body(client_order_id, **fields), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def short(client, client_order_id, quantity="100", locate_id=None, side="sell_short") -> dict:
    metadata = {"signal_id": "s1"}
    if locate_id is not None:
        metadata["locate_id"] = locate_id
    return submit(client, client_order_id, side=side, quantity=quantity, metadata=metadata)


def check(answer: dict, rule: str) -> dict:
    return next(c for c in answer["checks"] if c["rule"] == rule)


def fill(order_id: int, quantity: str, price: str = "100"):
    return order_fill(
        order=Order.objects.get(pk=order_id),
        exec_id=f"X-{next(_execs)}",
        quantity=quantity,
        price=price,
        venue="XNYS",
        executed_at=utcnow(),
        liquidity="removed",
    )


def buy_and_fill(client, client_order_id, quantity):
    order = submit(client, client_order_id, quantity=quantity)
    assert order["status"] == "accepted"
    fill(order["id"], quantity)


# --- locates (Reg SHO 203(b)) -----------------------------------------------------------------


def test_a_short_sale_without_a_locate_is_rejected(trader):
    answer = short(trader, "naked")
    assert answer["status"] == "rejected"
    failed = check(answer, "SHO-LOCATE")
    assert (failed["status"], failed["code"]) == ("fail", "locate_missing")
    assert failed["regulation"] == "SEC Reg SHO 203(b)"
    assert "metadata.locate_id" in failed["message"]
    order = Order.objects.get(pk=answer["id"])
    assert (order.status, order.side, order.locate_id) == ("rejected", "sell_short", None)
    assert AuditEvent.objects.filter(event_type="ORDER_REJECTED", object_id=str(order.pk))


def test_a_short_sale_naming_a_valid_locate_is_accepted(trader, account, instrument):
    located = locate(account, instrument)
    answer = short(trader, "covered", locate_id=located.pk)
    assert answer["status"] == "accepted", answer["checks"]
    passed = check(answer, "SHO-LOCATE")
    assert (passed["status"], passed["observed"], passed["threshold"]) == ("pass", "100", "500")
    assert Order.objects.get(pk=answer["id"]).locate_id == located.pk
    # The long-sale rule does not judge a sale marked short.
    assert check(answer, "SHO-MARKING")["status"] == "skipped"


def test_a_locate_is_used_up_by_the_short_sales_that_name_it(trader, account, instrument):
    located = locate(account, instrument, quantity="250")
    first = short(trader, "s-1", quantity="100", locate_id=located.pk)
    second = short(trader, "s-2", quantity="100", locate_id=str(located.pk))
    assert first["status"] == second["status"] == "accepted"
    third = short(trader, "s-3", quantity="100", locate_id=located.pk)
    assert third["status"] == "rejected"
    assert "has 50 of 250 AAPL left" in check(third, "SHO-LOCATE")["message"]
    # A canceled short sale gives back what it did not fill; a rejected one never took any.
    fill(first["id"], "30")
    order_cancel(order=Order.objects.get(pk=first["id"]))
    assert Locate.objects.get(pk=located.pk).remaining_quantity == Decimal("120")
    assert short(trader, "s-4", quantity="120", locate_id=located.pk)["status"] == "accepted"


def test_an_expired_locate_does_not_cover_a_short_sale(trader, account, instrument):
    located = locate(account, instrument)
    Locate.objects.filter(pk=located.pk).update(expires_at=utcnow() - timedelta(minutes=1))
    answer = short(trader, "late", locate_id=located.pk)
    assert answer["status"] == "rejected"
    failed = check(answer, "SHO-LOCATE")
    assert failed["code"] == "locate_missing" and "expired" in failed["message"]


def test_another_accounts_locate_does_not_cover_a_short_sale(trader, instrument):
    theirs = locate(AccountFactory(code="ACC-T2"), instrument)
    answer = short(trader, "borrowed-name", locate_id=theirs.pk)
    assert answer["status"] == "rejected"
    failed = check(answer, "SHO-LOCATE")
    assert failed["code"] == "locate_missing"
    assert failed["message"] == f"No locate {theirs.pk} on record for ACC-T1."
    assert Order.objects.get(pk=answer["id"]).locate_id is None


def test_a_locate_of_another_instrument_is_400_and_stores_nothing(trader, account):
    msft = InstrumentFactory(symbol="MSFT")
    ReferencePriceFactory(instrument=msft)
    other = locate(account, msft)
    events = AuditEvent.objects.count()
    for path in (URL, "/api/v1/pretrade/check/"):
        response = trader.post(
            path,
            order_body("wrong-name", side="sell_short", metadata={"locate_id": other.pk}),
            format="json",
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "locate_instrument_mismatch"
        assert error["details"]["metadata"] == [f"locate_id {other.pk} locates MSFT, not AAPL."]
    assert Order.objects.count() == 0 and AuditEvent.objects.count() == events


@pytest.mark.parametrize("locate_id", ["abc", -3, 0, True, "1.5", [7]])
def test_a_locate_id_that_cannot_be_one_is_400(trader, locate_id):
    response = trader.post(
        URL,
        order_body("bad-id", side="sell_short", metadata={"locate_id": locate_id}),
        format="json",
    )
    assert response.status_code == 400
    assert "locate_id" in response.json()["error"]["details"]["metadata"][0]
    assert Order.objects.count() == 0


def test_a_short_sale_marked_exempt_needs_no_locate_and_is_recorded_as_exempt(trader):
    answer = short(trader, "exempt", side="sell_short_exempt")
    assert answer["status"] == "accepted", answer["checks"]
    exempt = check(answer, "SHO-LOCATE")
    assert (exempt["status"], exempt["code"]) == ("pass", "short_sale_exempt")
    order = Order.objects.get(pk=answer["id"])
    assert order.side == "sell_short_exempt"
    assert check({"checks": order.checks}, "SHO-LOCATE")["code"] == "short_sale_exempt"


def test_a_short_sale_of_a_foreign_share_needs_no_locate(trader, account):
    sap = InstrumentFactory(symbol="SAP", mic="XETR", currency="EUR")
    ReferencePriceFactory(instrument=sap)
    sap_answer = submit(
        trader, "sap-short", instrument="SAP", side="sell_short", metadata={"signal_id": "s"}
    )
    assert sap_answer["status"] == "accepted"
    assert check(sap_answer, "SHO-LOCATE")["status"] == "skipped"


def test_an_amendment_of_a_short_sale_is_judged_against_its_locate(trader, account, instrument):
    located = locate(account, instrument, quantity="150")
    answer = short(trader, "amend-me", quantity="100", locate_id=located.pk)
    assert answer["status"] == "accepted"
    # Its own 100 is replaced, not added to: 150 fits the locate, 151 does not.
    bigger = trader.post(f"{URL}{answer['id']}/amend/", {"quantity": "150"}, format="json")
    assert bigger.json()["amended"] is True
    too_big = trader.post(f"{URL}{answer['id']}/amend/", {"quantity": "151"}, format="json")
    assert too_big.json()["amended"] is False
    assert Order.objects.get(pk=answer["id"]).quantity == Decimal("150")


# --- marking (Reg SHO 200(g)) -----------------------------------------------------------------


def test_a_sale_marked_long_that_would_go_short_is_mismarked(trader):
    answer = submit(trader, "flat-sell", side="sell")
    assert answer["status"] == "rejected"
    failed = check(answer, "SHO-MARKING")
    assert (failed["code"], failed["regulation"]) == ("mismarked_short", "SEC Reg SHO 200(g)")
    assert (failed["observed"], failed["threshold"]) == ("10", "0")


def test_a_sale_of_a_long_position_is_accepted(trader):
    buy_and_fill(trader, "long", "10")
    answer = submit(trader, "long-sale", side="sell")
    assert answer["status"] == "accepted", answer["checks"]
    assert check(answer, "SHO-MARKING")["status"] == "pass"
    assert check(answer, "SHO-LOCATE")["status"] == "skipped"  # a long sale needs no locate


def test_open_sales_count_against_what_is_held(trader):
    buy_and_fill(trader, "long", "10")
    assert submit(trader, "sell-6", side="sell", quantity="6")["status"] == "accepted"
    # 10 held, 6 already offered: 4 more may go as long, 5 may not.
    assert submit(trader, "sell-5", side="sell", quantity="5")["status"] == "rejected"
    assert submit(trader, "sell-4", side="sell", quantity="4")["status"] == "accepted"


def test_a_buy_that_covers_a_short_is_fine(trader, account, instrument):
    located = locate(account, instrument)
    answer = short(trader, "short", locate_id=located.pk)
    fill(answer["id"], "100")
    cover = submit(trader, "cover", quantity="100")
    assert cover["status"] == "accepted", cover["checks"]
    assert {c["status"] for c in cover["checks"]} == {"skipped"}


def test_a_short_fill_makes_the_position_negative(trader, account, instrument):
    located = locate(account, instrument)
    answer = short(trader, "short", quantity="100", locate_id=located.pk)
    exposure = WorkingExposure.objects.get(account=account, instrument=instrument)
    assert (exposure.buy_quantity, exposure.sell_quantity) == (0, 100)
    fill(answer["id"], "40", price="101")
    position = Position.objects.get(account=account, instrument=instrument)
    assert (position.quantity, position.average_cost) == (Decimal("-40"), Decimal("101"))
    exposure.refresh_from_db()
    assert exposure.sell_quantity == 60
    # Then a sale marked long is mismarked, and a short sale still needs its locate.
    assert submit(trader, "then-long", side="sell", quantity="1")["status"] == "rejected"


def test_a_sale_however_marked_is_a_duplicate_of_the_same_sale(trader, account, instrument):
    make_rule("duplicate_order", {"window_seconds": 60})
    buy_and_fill(trader, "long", "20")
    assert submit(trader, "sale", side="sell")["status"] == "accepted"
    again = short(trader, "same-sale", quantity="10", side="sell_short_exempt")
    duplicate = next(c for c in again["checks"] if c["rule_type"] == "duplicate_order")
    assert (again["status"], duplicate["code"]) == ("rejected", "duplicate_order")
    # A buy of the same size at the same price is not the same order.
    buy = submit(trader, "buy-back", quantity="10")
    assert buy["status"] == "accepted", buy["checks"]


def test_reducing_only_lets_a_short_sale_shrink_a_long_position(trader, make_user, account):
    buy_and_fill(trader, "long", "10")
    KillSwitch.objects.create(
        scope="account",
        target="ACC-T1",
        state="reducing",
        reason="margin call",
        activated_by=make_user(Role.RISK_MANAGER),
        activated_at=utcnow(),
    )
    exempt = short(trader, "shrink", quantity="10", side="sell_short_exempt")
    assert check(exempt, "KILL-SWITCH")["code"] == "reduces_position"
    grow = short(trader, "grow", quantity="11", side="sell_short_exempt")
    assert check(grow, "KILL-SWITCH")["code"] == "kill_switch_reducing_only"


def test_a_short_sale_costs_three_statements_more_than_a_buy(
    trader, account, instrument, django_assert_max_num_queries
):
    located = locate(account, instrument)
    warm = submit(trader, "warm-up", quantity="1")
    assert warm["status"] == "accepted"
    # as a buy (25, see test_queries), plus the locate at the door and the gate's two reads of it
    with django_assert_max_num_queries(28):
        answer = short(trader, "counted", quantity="1", locate_id=located.pk)
    assert answer["status"] == "accepted"
