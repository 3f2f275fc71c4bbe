"""Entitlements: a Viewer or Trader sees and trades only the accounts granted to them (SEC
15c3-5(c)(2)(iii)); Risk Manager and above see every account. Another account's rows are not
found (404: their existence is not revealed); submitting on it is a 403 `not_entitled`."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.killswitch.services import kill_switch_activate
from apps.rbac.roles import Role, ServiceRole
from apps.rules import gate
from apps.trading.models import (
    Account,
    AccountEntitlement,
    Fill,
    Locate,
    Order,
    Position,
)
from apps.trading.services import (
    entitlement_grant,
    entitlement_revoke,
    order_create,
    order_fill,
)
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import AccountFactory

ORDERS = "/api/v1/orders/"


@pytest.fixture
def book(strict_entitlements, make_user, api_client_for, account, instrument):
    """Two accounts with an order, a fill and a position each; `trader` and `viewer` are
    entitled to ACC-T1 only."""
    other = AccountFactory(code="ACC-OTHER")
    admin = make_user(Role.ADMIN)
    trader = make_user(Role.TRADER)
    viewer = make_user(Role.VIEWER)
    for user in (trader, viewer):
        entitlement_grant(user=user, account=account, actor=admin)
    orders = {}
    for acc in (account, other):
        order = order_create(
            account=acc,
            instrument=instrument,
            client_order_id=f"seed-{acc.code}",
            side="buy",
            order_type="limit",
            quantity="10",
            limit_price="100",
            status="accepted",
            reference_price="100",
        )
        order_fill(
            order=order,
            exec_id=f"x-{acc.code}",
            quantity="4",
            price="100",
            venue="XNYS",
            executed_at=utcnow(),
            liquidity="removed",
        )
        orders[acc.code] = order
    return {
        "mine": account,
        "other": other,
        "orders": orders,
        "trader": api_client_for(user=trader),
        "viewer": api_client_for(user=viewer),
        "admin": admin,
    }


def _codes(response, key="account") -> set[str]:
    assert response.status_code == 200, response.json()
    return {row[key] for row in response.json()["results"]}


# --- the service and the queryset -------------------------------------------------------------


def test_grant_and_revoke_are_audited_and_idempotent(strict_entitlements, make_user, account):
    admin, trader = make_user(Role.ADMIN), make_user(Role.TRADER)
    first = entitlement_grant(user=trader, account=account, actor=admin)
    assert entitlement_grant(user=trader, account=account, actor=admin) == first
    assert first.granted_by == admin
    granted = AuditEvent.objects.filter(object_type="trading.accountentitlement")
    [event] = granted
    payload = json.loads(event.record)["payload"]
    assert event.actor == admin.username and payload["change"] == "entitlement_granted"
    assert payload["after"] == {"user": trader.username, "account": account.code}

    assert entitlement_revoke(user=trader, account=account, actor=admin) is True
    assert entitlement_revoke(user=trader, account=account, actor=admin) is False
    assert not AccountEntitlement.objects.exists()
    events = [json.loads(e.record)["payload"] for e in granted.order_by("seq")]
    assert [e["change"] for e in events] == ["entitlement_granted", "entitlement_revoked"]
    assert events[1]["before"]["account"] == account.code
    assert events[1]["after"] is None


def test_restrict_by_role(book, make_user):
    mine, other = book["mine"], book["other"]
    trader, viewer = book["trader"].user, book["viewer"].user
    assert set(Account.objects.restrict(trader)) == {mine}
    assert set(Account.objects.restrict(trader, "trade")) == {mine}
    assert set(Account.objects.restrict(viewer)) == {mine}
    assert not Account.objects.restrict(viewer, "trade").exists()  # a Viewer trades nothing
    assert {o.account for o in Order.objects.restrict(trader)} == {mine}
    assert {f.order.account for f in Fill.objects.restrict(trader)} == {mine}
    assert {p.account for p in Position.objects.restrict(viewer)} == {mine}
    for role in (Role.RISK_MANAGER, Role.COMPLIANCE_OFFICER, Role.ADMIN):
        assert set(Account.objects.restrict(make_user(role), "trade")) == {mine, other}
    for nobody in (make_user(None), make_user(ServiceRole.FEED), None):
        assert not Order.objects.restrict(nobody).exists()


def test_the_restriction_costs_no_query_of_its_own(book, django_assert_num_queries):
    trader = book["trader"].user
    trader.groups.all()  # the role is read once per request, with the token
    Order.objects.restrict(trader)  # role read and cached
    with django_assert_num_queries(1):
        assert len(list(Order.objects.restrict(trader))) == 1


# --- lists and details over the API -----------------------------------------------------------


@pytest.mark.parametrize("who", ["trader", "viewer"])
def test_lists_show_only_the_entitled_accounts(book, who):
    client = book[who]
    assert _codes(client.get("/api/v1/accounts/"), "code") == {"ACC-T1"}
    assert _codes(client.get(ORDERS)) == {"ACC-T1"}
    assert _codes(client.get("/api/v1/positions/")) == {"ACC-T1"}
    # asking for the other account by name finds nothing either
    assert client.get(ORDERS, {"account": "ACC-OTHER"}).json()["count"] == 0
    assert client.get("/api/v1/positions/", {"account": "ACC-OTHER"}).json()["count"] == 0


def test_a_risk_manager_sees_every_account(book, api_client_for):
    client = api_client_for(Role.RISK_MANAGER)
    assert _codes(client.get("/api/v1/accounts/"), "code") == {"ACC-T1", "ACC-OTHER"}
    assert _codes(client.get(ORDERS)) == {"ACC-T1", "ACC-OTHER"}
    other = book["orders"]["ACC-OTHER"]
    assert client.get(f"{ORDERS}{other.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["trader", "viewer"])
def test_another_accounts_order_is_not_found(book, who):
    client = book[who]
    mine, other = book["orders"]["ACC-T1"], book["orders"]["ACC-OTHER"]
    assert client.get(f"{ORDERS}{mine.pk}/").status_code == 200
    response = client.get(f"{ORDERS}{other.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"


def test_a_trader_cannot_fill_cancel_or_amend_another_accounts_order(book):
    trader = book["trader"]
    other = book["orders"]["ACC-OTHER"]
    before = Order.objects.get(pk=other.pk)
    fill = {
        "exec_id": "steal-1",
        "quantity": "1",
        "price": "100",
        "venue": "XNYS",
        "executed_at": utcnow().isoformat(),
        "liquidity": "removed",
    }
    for suffix, body in (
        ("fills/", fill),
        ("cancel/", None),
        ("amend/", {"quantity": "5"}),
    ):
        response = trader.post(f"{ORDERS}{other.pk}/{suffix}", body, format="json")
        assert response.status_code == 404, (suffix, response.json())
        assert response.json()["error"]["code"] == "order_not_found"
    after = Order.objects.get(pk=other.pk)
    assert (after.status, after.quantity, after.filled_quantity) == (
        before.status,
        before.quantity,
        before.filled_quantity,
    )
    assert not Fill.objects.filter(exec_id="steal-1").exists()


def test_a_trader_still_works_their_own_orders(book):
    trader = book["trader"]
    mine = book["orders"]["ACC-T1"]
    response = trader.post(f"{ORDERS}{mine.pk}/cancel/", format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "canceled"


# --- submitting -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [ORDERS, "/api/v1/pretrade/check/"])
def test_submitting_on_another_account_is_403_and_stores_nothing(book, url):
    before_orders, before_events = Order.objects.count(), AuditEvent.objects.count()
    response = book["trader"].post(url, order_body("x-1", account="ACC-OTHER"), format="json")
    assert response.status_code == 403, response.json()
    error = response.json()["error"]
    assert error["code"] == "not_entitled" and error["details"] == {"account": "ACC-OTHER"}
    assert Order.objects.count() == before_orders
    assert AuditEvent.objects.count() == before_events


def test_submitting_on_an_entitled_account_is_judged(book):
    response = book["trader"].post(ORDERS, order_body("ok-1"), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "accepted"


def test_an_unknown_account_is_still_a_400(book):
    response = book["trader"].post(ORDERS, order_body("x-2", account="NOPE"), format="json")
    assert response.status_code == 400
    assert "account" in response.json()["error"]["details"]


def test_a_risk_manager_submits_on_any_account(book, api_client_for):
    client = api_client_for(Role.RISK_MANAGER)
    response = client.post(ORDERS, order_body("rm-1", account="ACC-OTHER"), format="json")
    assert response.status_code == 201, response.json()


def test_a_revoked_entitlement_stops_the_next_order(book):
    trader = book["trader"]
    entitlement_revoke(user=trader.user, account=book["mine"], actor=book["admin"])
    response = trader.post(ORDERS, order_body("after-revoke"), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_entitled"
    mine = book["orders"]["ACC-T1"]
    assert trader.get(f"{ORDERS}{mine.pk}/").status_code == 404


def test_locates_follow_the_entitlements(book):
    trader = book["trader"]
    body = {
        "account": "ACC-OTHER",
        "instrument": "AAPL",
        "lender": "Prime Lending",
        "reference": "PL-1",
        "quantity": "500",
        "expires_at": (utcnow() + timedelta(hours=8)).isoformat(),
    }
    response = trader.post("/api/v1/locates/", body, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_entitled"
    assert not Locate.objects.exists()
    own = trader.post("/api/v1/locates/", {**body, "account": "ACC-T1"}, format="json")
    assert own.status_code == 201, own.json()
    risk_made = Locate.objects.create(
        account=book["other"],
        instrument=Locate.objects.get().instrument,
        lender="Other",
        reference="PL-2",
        quantity="1",
        expires_at=utcnow() + timedelta(hours=1),
    )
    listed = {row["id"] for row in trader.get("/api/v1/locates/").json()["results"]}
    assert risk_made.pk not in listed and len(listed) == 1


# --- the market-access rule reads the same table ---------------------------------------------


def _request(account, instrument, client_order_id: str) -> gate.OrderRequest:
    body = order_body(client_order_id, account=account.code)
    return gate.OrderRequest(
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        side="buy",
        order_type="limit",
        quantity=Decimal(body["quantity"]),
        limit_price=Decimal(body["limit_price"]),
        time_in_force="day",
        metadata={},
        body=body,
    )


def test_the_market_access_rule_refuses_a_user_not_entitled(book, instrument):
    """Orders that reach the gate without the API (the simulator, a replay) are judged by the
    market-access rule against the same entitlements."""
    make_rule(
        "market_access",
        {"default": "allow", "accounts": {}, "users": {}},
        regulation="SEC 15c3-5(c)(2)(iii)",
    )
    trader = book["trader"].user
    refused = gate.order_submit(req=_request(book["other"], instrument, "g-1"), user=trader)
    assert refused.status == "rejected"
    [check] = [c for c in refused.checks if c["rule_type"] == "market_access"]
    assert check["status"] == "fail" and check["code"] == "user_not_entitled"
    allowed = gate.order_submit(req=_request(book["mine"], instrument, "g-2"), user=trader)
    assert allowed.status == "accepted", allowed.checks


def test_the_market_access_rule_adds_at_most_one_statement(
    book, instrument, django_assert_max_num_queries
):
    """The API reads the entitlement with the account (no statement of its own); the gate
    reads it itself, in its batch, only when a market-access rule is in force."""
    make_rule("market_access", {"default": "allow", "accounts": {}, "users": {}})
    trader = book["trader"]
    trader.post(ORDERS, order_body("warm-1", quantity="1"), format="json")
    with django_assert_max_num_queries(25):
        answer = trader.post(ORDERS, order_body("counted", quantity="1"), format="json")
    assert answer.json()["status"] == "accepted"


# --- pages, kill switches, the back office ----------------------------------------------------


def test_the_dashboard_shows_only_the_entitled_accounts(book, client):
    client.force_login(book["viewer"].user)
    page = client.get("/").content.decode()
    assert "ACC-T1" in page and "ACC-OTHER" not in page


def test_kill_switches_of_other_accounts_are_not_shown(book, client, make_user):
    risk = make_user(Role.RISK_MANAGER)
    for target in ("ACC-T1", "ACC-OTHER"):
        kill_switch_activate(
            actor=risk, scope="account", target=target, state="halted", reason=f"Halt {target}."
        )
    kill_switch_activate(actor=risk, scope="instrument", target="AAPL", state="halted", reason="x")
    listed = book["viewer"].get("/api/v1/kill-switch/").json()["results"]
    assert {(s["scope"], s["target"]) for s in listed} == {
        ("account", "ACC-T1"),
        ("instrument", "AAPL"),
    }
    client.force_login(book["trader"].user)
    page = client.get("/kill-switch/").content.decode()
    assert "Halt ACC-T1." in page and "Halt ACC-OTHER." not in page


def test_the_kill_switch_back_office_hides_other_accounts_and_snapshots(book, client, make_user):
    risk = make_user(Role.RISK_MANAGER)
    mine, other = (
        kill_switch_activate(
            actor=risk, scope="account", target=target, state="halted", reason=f"Halt {target}."
        )
        for target in ("ACC-T1", "ACC-OTHER")
    )
    firm = kill_switch_activate(actor=risk, scope="firm", target="", state="reducing", reason="x")
    client.force_login(book["viewer"].user)
    listing = client.get("/admin/killswitch/killswitch/").content.decode()
    assert f"/admin/killswitch/killswitch/{mine.pk}/change/" in listing
    assert f"/admin/killswitch/killswitch/{other.pk}/change/" not in listing
    assert client.get(f"/admin/killswitch/killswitch/{other.pk}/change/").status_code in (302, 404)
    # a firm switch's snapshot holds every account's positions: not for a Viewer
    detail = client.get(f"/admin/killswitch/killswitch/{firm.pk}/change/").content.decode()
    assert "ACC-OTHER" not in detail and "snapshot at activation" not in detail.lower()
    client.force_login(risk)
    detail = client.get(f"/admin/killswitch/killswitch/{firm.pk}/change/").content.decode()
    assert "snapshot at activation" in detail.lower()


def test_the_back_office_lists_only_the_entitled_accounts_rows(book, client):
    client.force_login(book["viewer"].user)
    listing = client.get("/admin/trading/order/").content.decode()
    mine, other = book["orders"]["ACC-T1"], book["orders"]["ACC-OTHER"]
    assert f"/admin/trading/order/{mine.pk}/change/" in listing
    assert f"/admin/trading/order/{other.pk}/change/" not in listing
    detail = client.get(f"/admin/trading/order/{other.pk}/change/")
    assert detail.status_code in (302, 404)  # the admin's "does not exist" redirect
    accounts = client.get("/admin/trading/account/").content.decode()
    assert "ACC-T1" in accounts and "ACC-OTHER" not in accounts
    positions = client.get("/admin/trading/position/").content.decode()
    assert "ACC-OTHER" not in positions  # not even in the account filter


def test_the_back_office_shows_only_the_owners_of_entitled_accounts(book, client, make_user):
    client.force_login(book["viewer"].user)
    owners = client.get("/admin/trading/beneficialowner/").content.decode()
    assert "Owner of ACC-T1" in owners and "Owner of ACC-OTHER" not in owners
    client.force_login(make_user(Role.RISK_MANAGER))
    owners = client.get("/admin/trading/beneficialowner/").content.decode()
    assert "Owner of ACC-T1" in owners and "Owner of ACC-OTHER" in owners
