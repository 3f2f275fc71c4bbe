"""The reference data each process keeps in memory (apps.rbac.refcache): an order reads its
token, user, account and instrument from it without a statement, and a change to any of them,
made by any path (a service, a bulk update, plain SQL), is seen on the very next order."""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.audit.models import AuditEvent
from apps.rbac import refcache
from apps.rbac.roles import Role
from apps.rbac.services import api_token_revoke, user_role_set
from apps.rules import apis
from apps.trading.models import Account, Instrument, Order
from apps.trading.services import entitlement_grant, entitlement_revoke
from tests.rules.factories import order_body

URL = "/api/v1/orders/"


def _version() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM rbac_referenceversion WHERE id = 1")
        found = cursor.fetchone()
    return found[0] if found else None


@pytest.fixture
def trader(api_client_for, account, instrument):
    client = api_client_for(Role.TRADER)
    first = client.post(URL, order_body("warm-up", quantity="1"), format="json")
    assert first.status_code == 201 and first.json()["status"] == "accepted"
    return client


def _order(client, coid: str, **overrides):
    return client.post(URL, order_body(coid, **{"quantity": "1", **overrides}), format="json")


@pytest.mark.parametrize(
    "table",
    [
        "rbac_apitoken",
        "auth_user",
        "auth_user_groups",
        "auth_group",
        "trading_account",
        "trading_instrument",
        "trading_accountentitlement",
    ],
)
def test_a_write_by_plain_sql_to_any_table_behind_the_cache_moves_the_version(trader, table):
    before = _version()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id")  # noqa: S608 - the test's own names
    assert _version() != before


def test_a_rolled_back_change_leaves_no_version_for_a_later_change_to_take(trader):
    inside = None
    with pytest.raises(RuntimeError), transaction.atomic():
        Account.objects.update(credit_limit=1)
        inside = _version()
        raise RuntimeError("rolled back")
    Account.objects.update(credit_limit=2)
    assert _version() not in (None, inside)


def test_a_revoked_token_is_refused_on_the_very_next_order(trader):
    token = trader.user.api_tokens.get()
    api_token_revoke(token=token)
    answer = _order(trader, "after-revoke")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "Token revoked."
    assert not Order.objects.filter(client_order_id="after-revoke").exists()


def test_a_user_deactivated_by_a_bulk_update_is_refused_on_the_next_order(trader):
    type(trader.user).objects.filter(pk=trader.user.pk).update(is_active=False)
    answer = _order(trader, "after-deactivation")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "User inactive."


def test_a_trader_made_viewer_can_no_longer_send_orders(trader):
    user_role_set(user=trader.user, role=Role.VIEWER)  # a role change retires the user's tokens
    answer = _order(trader, "after-demotion")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "Token revoked."
    assert not Order.objects.filter(client_order_id="after-demotion").exists()


@pytest.mark.usefixtures("strict_entitlements")
def test_an_entitlement_withdrawn_or_granted_counts_at_once(api_client_for, account, instrument):
    client = api_client_for(Role.TRADER)
    assert _order(client, "not-yet").status_code == 403  # a refusal is never kept
    entitlement_grant(user=client.user, account=account)
    assert _order(client, "granted").json()["status"] == "accepted"
    entitlement_revoke(user=client.user, account=account)
    answer = _order(client, "withdrawn")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "not_entitled"


def test_an_instrument_suspended_by_plain_sql_is_refused_on_the_next_order(trader, instrument):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trading_instrument SET is_active = %s WHERE id = %s", [False, instrument.pk]
        )
    answer = _order(trader, "suspended")
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["instrument"] == ["Instrument is not active."]


def test_an_account_closed_is_refused_on_the_next_order(trader, account):
    Account.objects.filter(pk=account.pk).update(is_active=False)
    answer = _order(trader, "closed")
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["account"] == ["Account is not active."]


def test_a_change_between_the_cache_and_the_gate_rolls_back_and_decides_once(
    trader, account, monkeypatch
):
    """The account's limit changes after the request read its account from the cache and
    before the gate's batch: the gate sees the version moved, nothing is stored, and the order
    is decided again on what the account says now, once."""
    real = apis.order_request
    calls = []

    def racing(data, user):
        req = real(data, user)
        if not calls:  # another process changes the account right now
            Account.objects.filter(pk=account.pk).update(credit_limit=1)
        calls.append(req.account.credit_limit)
        return req

    monkeypatch.setattr(apis, "order_request", racing)
    events = AuditEvent.objects.count()
    answer = _order(trader, "raced")
    assert answer.status_code == 201
    assert calls[-1] == 1 and len(calls) == 2  # decided on the limit as changed
    assert Order.objects.filter(client_order_id="raced").count() == 1
    assert AuditEvent.objects.count() == events + 1  # one decision recorded, not two


def test_tokens_that_match_nothing_are_never_kept(trader):
    for n in range(20):
        bad = trader.__class__()
        bad.credentials(HTTP_AUTHORIZATION=f"Token not-a-token-{n}")
        assert bad.post(URL, order_body(f"bad-{n}"), format="json").status_code == 401
    keys = [key for key in refcache._current.entries if key[0] == "api_token"]
    assert len(keys) == 1  # the trader's own


def test_other_endpoints_read_the_version_on_every_request(trader):
    assert trader.get("/api/v1/auth/me/").status_code == 200
    token = trader.user.api_tokens.get()
    api_token_revoke(token=token)
    assert trader.get("/api/v1/auth/me/").status_code == 401


def test_outside_a_request_every_lookup_reads_the_version(trader, instrument):
    from apps.trading.selectors import account_and_instrument

    _account, found = account_and_instrument("ACC-T1", "AAPL")
    Instrument.objects.filter(pk=instrument.pk).update(lot_size=7)
    _account, again = account_and_instrument("ACC-T1", "AAPL")
    assert found.lot_size != 7 and again.lot_size == 7


@pytest.mark.usefixtures("strict_entitlements")
def test_rows_a_rolled_back_transaction_read_of_its_own_changes_are_never_trusted(
    make_user, account, instrument
):
    """A transaction grants an entitlement, reads the account through the cache, and rolls
    back: what it read (its own uncommitted grant) must not be served to a later order."""
    from apps.trading.selectors import account_and_instrument

    user = make_user(Role.TRADER)
    refcache.begin_request()
    try:
        first, _ = account_and_instrument("ACC-T1", "AAPL", user=user)
        assert first.entitled is False
        with pytest.raises(RuntimeError), transaction.atomic():
            entitlement_grant(user=user, account=account)
            inside, _ = account_and_instrument("ACC-T1", "AAPL", user=user)
            assert inside.entitled is True
            raise RuntimeError("rolled back")
    finally:
        refcache.end_request()
    refcache.begin_request()
    refcache.check_later()  # as the order API: no version read before the gate
    try:
        later, _ = account_and_instrument("ACC-T1", "AAPL", user=user)
        assert later.entitled is False
    finally:
        refcache.end_request()


def test_a_role_granted_in_the_back_office_counts_on_the_next_order(
    api_client_for, account, instrument
):
    """A role added to the user's groups directly (the admin does not retire tokens): the
    cached Viewer is refused, read afresh, and the order goes through."""
    from django.contrib.auth.models import Group

    client = api_client_for(Role.VIEWER)
    assert _order(client, "as-viewer").status_code == 403
    client.user.groups.add(Group.objects.get(name=Role.TRADER.group_name))
    answer = _order(client, "as-trader")
    assert answer.status_code == 201, answer.json()


def test_a_change_between_two_orders_of_a_basket_sends_it_again_not_a_503(
    trader, account, monkeypatch
):
    from apps.rules import gate

    real = gate.order_submit
    calls = []

    def racing(*, req, user):
        calls.append(req.client_order_id)
        if len(calls) == 2:  # after the first order's check: another process changes an account
            Account.objects.filter(pk=account.pk).update(name="Renamed")
        return real(req=req, user=user)

    monkeypatch.setattr(gate, "order_submit", racing)
    body = {"orders": [order_body("b-1", quantity="1"), order_body("b-2", quantity="2")]}
    answer = trader.post("/api/v1/orders/basket/", body, format="json")
    assert answer.status_code == 201, answer.json()
    assert Order.objects.filter(client_order_id__in=["b-1", "b-2"]).count() == 2


@pytest.fixture
def officers(make_user):
    # Made before the trader's warm-up: users are reference data (they move the version).
    return make_user(Role.RISK_MANAGER), make_user(Role.RISK_MANAGER)


def test_a_change_outside_the_cached_tables_sends_no_order_twice(
    officers, trader, instrument, monkeypatch
):
    """Look-alike of a reference change: a new reference price, a kill switch lifted, a rule
    added are read in the gate's own batch; the version does not move, nothing runs again."""
    from apps.core.time import utcnow
    from apps.killswitch.services import kill_switch_activate, kill_switch_deactivate
    from apps.rules import gate
    from apps.trading.services import reference_price_record
    from tests.rules.factories import make_rule

    officer, other = officers
    before = _version()
    reference_price_record(instrument=instrument, price=Decimal("100"), as_of=utcnow(), source="t")
    switch = kill_switch_activate(
        scope="instrument", target="AAPL", state="halted", reason="drill", actor=officer
    )
    kill_switch_deactivate(switch=switch, comment="drill over", actor=other)
    make_rule("max_notional", {"max_notional": "5000"})
    assert _version() == before
    calls = []
    real = gate.order_submit

    def counted(*, req, user):
        calls.append(req.client_order_id)
        return real(req=req, user=user)

    monkeypatch.setattr(gate, "order_submit", counted)
    assert _order(trader, "quiet").json()["status"] == "accepted"
    assert calls == ["quiet"]
