"""The order-flow rules as a compliance officer tries them through the API: the duplicate
order that allows slicing, message limits on new orders, amendments and cancels, and the
cancel ratio's market-maker exemption."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.trading.models import Order, OrderMessage
from tests.rules.factories import make_rule, order_body, report_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def by_type(answer: dict, rule_type: str) -> dict:
    return next(c for c in answer["checks"] if c["rule_type"] == rule_type)


# --- duplicate orders: working ones only ------------------------------------------------------


def test_an_identical_order_while_the_first_is_working_is_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    assert trader.post(URL, order_body("p-1"), format="json").json()["status"] == "accepted"
    answer = trader.post(URL, order_body("p-2"), format="json").json()
    assert answer["status"] == "rejected"
    assert by_type(answer, "duplicate_order")["code"] == "duplicate_order"


def test_a_child_slice_after_the_previous_one_filled_is_not_a_duplicate(trader):
    """An algorithm slicing a parent order sends the next child of the same size once the
    previous one has filled: that is not a resend by mistake."""
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("slice-1"), format="json").json()
    assert report_fill(trader, first["id"])["order"]["status"] == "filled"
    answer = trader.post(URL, order_body("slice-2"), format="json").json()
    assert answer["status"] == "accepted", answer["checks"]
    assert by_type(answer, "duplicate_order")["status"] == "pass"


def test_an_identical_order_after_the_first_was_canceled_is_not_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("c-1"), format="json").json()
    assert trader.post(f"{URL}{first['id']}/cancel/").status_code == 200
    answer = trader.post(URL, order_body("c-2"), format="json").json()
    assert answer["status"] == "accepted", answer["checks"]


def test_a_partly_filled_first_order_is_still_working_so_the_second_is_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("pf-1"), format="json").json()
    assert report_fill(trader, first["id"], "4")["order"]["status"] == "partially_filled"
    answer = trader.post(URL, order_body("pf-2"), format="json").json()
    assert answer["status"] == "rejected"


# --- message limits: new orders, amendments and cancels all count ------------------------------


class Clock:
    """The platform's clock (`django.utils.timezone.now`, which every time stamp reads), moved
    by the test: no real waiting."""

    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def amend(client, order_id: int, price: str) -> dict:
    response = client.post(f"{URL}{order_id}/amend/", {"limit_price": price}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_130_amendments_in_a_second_and_a_half_are_stopped_from_the_121st(trader, clock):
    """An algorithm amends one resting order 130 times in 1.5 seconds; the limit is 120
    messages a minute per account."""
    make_rule("message_rate", {"max_per_minute": 120, "per": "account"})
    order_id = trader.post(URL, order_body("rest"), format="json").json()["id"]
    clock.tick(61)  # the order has rested a minute: its own message is out of the window
    answers = []
    for n in range(130):
        clock.tick(1.5 / 130)
        answers.append(amend(trader, order_id, "100.01" if n % 2 == 0 else "100"))
    assert all(a["amended"] for a in answers[:120])
    refused = answers[120:]
    assert all(a["amended"] is False and a["decision"] == "rejected" for a in refused)
    check = by_type(refused[0], "message_rate")
    assert (check["code"], check["observed"], check["threshold"]) == (
        "message_rate_exceeded",
        "121",
        "120",
    )
    assert "account ACC-T1 in the last minute" in check["message"]
    # The order stands as the 120th amendment left it.
    assert Order.objects.get(pk=order_id).limit_price == Decimal("100")
    refusals = AuditEvent.objects.filter(
        event_type="ORDER_AMENDED", record__contains='"amended":false'
    )
    assert refusals.count() == 10


def test_a_per_second_limit_stops_a_burst_and_lets_the_next_second_through(trader, clock):
    make_rule("message_rate", {"max_per_second": 10, "max_per_minute": 1000})
    order_id = trader.post(URL, order_body("rest"), format="json").json()["id"]
    clock.tick(2)
    answers = []
    for n in range(12):
        clock.tick(0.05)
        answers.append(amend(trader, order_id, "100.01" if n % 2 == 0 else "100"))
    assert [a["amended"] for a in answers] == [True] * 10 + [False] * 2
    assert "in the last second" in by_type(answers[10], "message_rate")["message"]
    clock.tick(1.5)  # the burst is more than a second old
    assert amend(trader, order_id, "100.02")["amended"] is True


def test_100_messages_spread_over_two_minutes_pass(trader, clock):
    """New orders, amendments and cancels, one every 1.2 seconds: never more than 50 in a
    minute against a limit of 60."""
    make_rule("message_rate", {"max_per_second": 2, "max_per_minute": 60})
    sent, n = 0, 0
    while sent < 100:
        clock.tick(1.2)
        n += 1
        answer = trader.post(URL, order_body(f"s-{n}"), format="json").json()
        assert answer["status"] == "accepted", answer["checks"]
        sent += 1
        for step in ("amend", "cancel"):
            if sent == 100:
                break
            clock.tick(1.2)
            if step == "amend":
                assert amend(trader, answer["id"], "100.01")["amended"] is True
            else:
                assert trader.post(f"{URL}{answer['id']}/cancel/").status_code == 200
            sent += 1
    assert OrderMessage.objects.count() == 100


def test_another_users_messages_on_another_account_do_not_count(api_client_for, clock):
    AccountFactory(code="ACC-T1")
    AccountFactory(code="ACC-T2")
    instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    ReferencePriceFactory(instrument=instrument)
    make_rule("message_rate", {"max_per_minute": 5})  # per account and per user
    alice, bob = api_client_for(Role.TRADER), api_client_for(Role.TRADER)
    for n in range(5):
        clock.tick(0.5)
        answer = bob.post(URL, order_body(f"b-{n}", account="ACC-T2"), format="json").json()
        assert answer["status"] == "accepted"
    for n in range(5):
        clock.tick(0.5)
        answer = alice.post(URL, order_body(f"a-{n}"), format="json").json()
        assert answer["status"] == "accepted", by_type(answer, "message_rate")


def test_a_user_is_limited_across_accounts_and_an_account_across_users(api_client_for, clock):
    AccountFactory(code="ACC-T1")
    AccountFactory(code="ACC-T2")
    instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    ReferencePriceFactory(instrument=instrument)
    make_rule("message_rate", {"max_per_minute": 3, "per": "user"})
    make_rule("message_rate", {"max_per_minute": 4, "per": "account"})
    alice, bob = api_client_for(Role.TRADER), api_client_for(Role.TRADER)
    statuses = []
    for n, account in enumerate(["ACC-T1", "ACC-T2", "ACC-T1", "ACC-T2"]):
        clock.tick(0.5)
        body = order_body(f"a-{n}", account=account)
        statuses.append(alice.post(URL, body, format="json").json()["status"])
    assert statuses == ["accepted"] * 3 + ["rejected"]  # alice's 4th message on two accounts
    # ACC-T1 has had 2 of alice's messages (one accepted, one refused by her limit is on
    # ACC-T2): bob's two more reach the account's 4, the third is one too many.
    statuses = []
    for n in range(3):
        clock.tick(0.5)
        statuses.append(bob.post(URL, order_body(f"b-{n}"), format="json").json()["status"])
    assert statuses == ["accepted", "accepted", "rejected"]


def test_a_cancel_over_the_limit_is_not_refused_but_counts(trader, clock):
    make_rule("message_rate", {"max_per_minute": 3, "per": "account"})
    first = trader.post(URL, order_body("m-1"), format="json").json()
    second = trader.post(URL, order_body("m-2", limit_price="99"), format="json").json()
    assert trader.post(f"{URL}{first['id']}/cancel/").status_code == 200  # message 3
    cancel = trader.post(f"{URL}{second['id']}/cancel/")  # message 4: over, never refused
    assert cancel.status_code == 200 and cancel.json()["status"] == "canceled"
    answer = trader.post(URL, order_body("m-3"), format="json").json()
    assert answer["status"] == "rejected"
    assert by_type(answer, "message_rate")["observed"] == "5"
    kinds = sorted(OrderMessage.objects.values_list("kind", flat=True))
    assert kinds == ["cancel", "cancel", "new", "new", "new"]


def test_a_dry_run_is_not_a_message(trader):
    make_rule("message_rate", {"max_per_minute": 1})
    for n in range(3):
        answer = trader.post("/api/v1/pretrade/check/", order_body(f"d-{n}"), format="json")
        assert answer.json()["status"] == "accepted"
    assert not OrderMessage.objects.exists()


def test_a_kill_switch_canceling_working_orders_sends_no_client_message(trader, make_user):
    from apps.killswitch.services import kill_switch_activate

    make_rule("message_rate", {"max_per_minute": 2, "per": "account"})
    trader.post(URL, order_body("k-1"), format="json")
    kill_switch_activate(
        scope="account",
        target="ACC-T1",
        state="reducing",
        reason="desk review",
        actor=make_user(Role.RISK_MANAGER),
        cancel_working=True,
    )
    assert Order.objects.get(client_order_id="k-1").status == "canceled"
    assert list(OrderMessage.objects.values_list("kind", flat=True)) == ["new"]


def test_a_held_order_released_is_judged_as_when_it_was_sent(trader, make_user, clock):
    """The approval re-check leaves the held order's own message out of the count: releasing
    it is not one message more."""
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    make_rule("message_rate", {"max_per_minute": 2, "per": "account"})
    make_rule("approval_threshold", {"notional": "500"}, action="hold")
    held = trader.post(URL, order_body("h-1"), format="json").json()
    assert held["status"] == "pending_approval"
    clock.tick(1)
    assert trader.post(URL, order_body("h-2", quantity="1"), format="json").json()["status"] == (
        "accepted"
    )
    clock.tick(1)
    approval = ApprovalRequest.objects.get(order_id=held["id"])
    decided = approval_decide(
        approval=approval,
        actor=make_user(Role.COMPLIANCE_OFFICER),
        decision="approve",
        comment="Within the mandate.",
    )
    assert decided.status == "approved"


# --- the cancel ratio of a market maker ------------------------------------------------------


def _cancel_heavy_session(client, prefix: str, account: str) -> None:
    """Four orders, three canceled: a ratio of 0.75."""
    for n in range(4):
        body = order_body(f"{prefix}-{n}", account=account, limit_price=f"{99 + n / 100:.2f}")
        answer = client.post(URL, body, format="json").json()
        assert answer["status"] == "accepted", answer["checks"]
        if n < 3:
            assert client.post(f"{URL}{answer['id']}/cancel/").status_code == 200


def test_a_market_makers_quoting_is_not_stopped_by_the_cancel_ratio(api_client_for, instrument):
    AccountFactory(code="ACC-MM", is_market_maker=True)
    make_rule("cancel_ratio", {"max_ratio": "0.5", "min_orders": 4})
    client = api_client_for(Role.TRADER)
    _cancel_heavy_session(client, "q", "ACC-MM")
    answer = client.post(URL, order_body("q-next", account="ACC-MM"), format="json").json()
    assert answer["status"] == "accepted"
    check = by_type(answer, "cancel_ratio")
    assert check["status"] == "skipped" and "market maker" in check["message"]


def test_the_same_cancel_ratio_stops_an_account_that_is_not_a_market_maker(
    api_client_for, instrument
):
    AccountFactory(code="ACC-T1")
    make_rule("cancel_ratio", {"max_ratio": "0.5", "min_orders": 4})
    client = api_client_for(Role.TRADER)
    _cancel_heavy_session(client, "c", "ACC-T1")
    answer = client.post(URL, order_body("c-next"), format="json").json()
    assert answer["status"] == "rejected"
    assert by_type(answer, "cancel_ratio")["code"] == "cancel_ratio_exceeded"


def test_a_market_maker_is_still_held_to_its_message_limits(api_client_for, instrument):
    AccountFactory(code="ACC-MM", is_market_maker=True)
    make_rule("message_rate", {"max_per_minute": 2, "per": "account"})
    client = api_client_for(Role.TRADER)
    statuses = [
        client.post(URL, order_body(f"mm-{n}", account="ACC-MM"), format="json").json()["status"]
        for n in range(3)
    ]
    assert statuses == ["accepted", "accepted", "rejected"]


def test_the_market_maker_flag_is_shown_filtered_and_audited(api_client_for, make_user, db):
    from apps.trading.services import account_update

    AccountFactory(code="ACC-MM", is_market_maker=True)
    plain = AccountFactory(code="ACC-T1")
    client = api_client_for(Role.VIEWER)
    rows = client.get("/api/v1/accounts/?is_market_maker=true").json()["results"]
    assert [(r["code"], r["is_market_maker"]) for r in rows] == [("ACC-MM", True)]
    officer = make_user(Role.COMPLIANCE_OFFICER)
    account_update(account=plain, is_market_maker=True, actor=officer)
    change = AuditEvent.objects.filter(event_type="CONFIG_CHANGED").last()
    assert '"is_market_maker":true' in change.record and officer.username in change.record
