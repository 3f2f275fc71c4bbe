"""Round trips and statements of an order, on both databases (issue 21, item 2).

Counted with Django's query capture, one entry per statement sent (a batch of reads is one),
plus the writes that went behind another statement (`sql.write_behind`, PostgreSQL only).
PostgreSQL, an accepted order: the token, its user, the account and the instrument come from
the process's reference cache (apps.rbac.refcache), then in the order's transaction the
account's lock with every read under it and the reference data's version (1: a batch) and the
audit event's insert, unsequenced, carrying the order's four writes (order, working exposure,
daily count, message count); the transaction's BEGIN and COMMIT come on top. The sequencer's drain
after the commit is not the order's: it runs once for whatever has committed, on PostgreSQL in
a background thread of the process (these tests count the writer's statements). SQLite
runs in process (no round trips): the reads run one by one and nothing goes behind.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.killswitch.services import kill_switch_activate, kill_switch_deactivate
from apps.rbac.roles import Role
from apps.rules import gate
from apps.trading.models import AccountDailyActivity, Order, OrderMessage, WorkingExposure
from tests.rules.factories import make_rule, order_body

pytestmark = pytest.mark.audit_after_commit  # the writer's own statements, not the sequencer's

URL = "/api/v1/orders/"
PG = connection.vendor == "postgresql"
# The order's writes that go behind the audit event's first statement on PostgreSQL.
BEHIND = 4 if PG else 0
# Django's savepoint and its release around the test's own transaction stand where BEGIN and
# COMMIT are in production: counted here, two of them.
WRAP = 2


@pytest.fixture
def trader(api_client_for, account, instrument):
    make_rule("approval_threshold", {"notional": "500"}, action="hold")
    make_rule("max_notional", {"max_notional": "5000"})
    client = api_client_for(Role.TRADER)
    # A first order: the rule set is compiled and cached, the account's rows exist.
    first = client.post(URL, order_body("warm-up", quantity="1"), format="json")
    assert first.json()["status"] == "accepted"
    return client


def _submit(client, body):
    before = getattr(connection, "written_behind", 0)
    with CaptureQueriesContext(connection) as captured:
        answer = client.post(URL, body, format="json")
    behind = getattr(connection, "written_behind", 0) - before
    return answer.json(), len(captured.captured_queries), behind


@pytest.mark.django_db
def test_accepted(trader):
    answer, sent, behind = _submit(trader, order_body("small", quantity="1"))
    assert answer["status"] == "accepted"
    # PostgreSQL: the locked batch, the audit insert carrying the writes.
    # SQLite: every read and write one by one (the exposure and the daily count read their
    # row first), and the audit's 3.
    assert sent - WRAP == (2 if PG else 17)
    assert behind == BEHIND


@pytest.mark.django_db
def test_rejected(trader):
    answer, sent, behind = _submit(trader, order_body("big", quantity="100"))
    assert answer["status"] == "rejected"
    # No working exposure for a rejected order: one write fewer.
    assert sent - WRAP == (2 if PG else 15)
    assert behind == (3 if PG else 0)


@pytest.mark.django_db
def test_held(trader):
    first, _sent, _behind = _submit(trader, order_body("large-1"))
    assert first["status"] == "pending_approval"  # the Compliance Officers' addresses now kept
    answer, sent, behind = _submit(trader, order_body("large-2", limit_price="101"))
    assert answer["status"] == "pending_approval"
    # As accepted, and the approval request's insert and audit event, in the gate's own
    # transaction (no savepoint); the addresses it notifies come from the reference cache.
    assert sent - WRAP == (2 + 2 if PG else 17 + 2), sent
    assert behind == BEHIND


@pytest.mark.django_db
def test_the_writes_behind_are_all_there(trader):
    answer, _sent, _behind = _submit(trader, order_body("small", quantity="2"))
    order = Order.objects.get(pk=answer["id"])
    assert order.status == "accepted"
    assert OrderMessage.objects.filter(order=order, kind="new").count() == 1
    exposure = WorkingExposure.objects.get(account=order.account, instrument=order.instrument)
    assert exposure.buy_quantity == 3  # the warm-up's 1 and this order's 2
    daily = AccountDailyActivity.objects.get(account=order.account)
    assert daily.orders_submitted == 2


@pytest.fixture
def officers(make_user):
    # Made before the trader's warm-up: a new user moves the reference data's version, and the
    # first order after it is read afresh (see test_refcache).
    return make_user(Role.RISK_MANAGER), make_user(Role.RISK_MANAGER)


@pytest.mark.django_db
def test_a_kill_switch_bites_on_the_very_next_order(officers, trader):
    """The rule set is cached; the kill switches are read in the locked batch of every order."""
    officer, other = officers
    switch = kill_switch_activate(
        scope="firm", target=None, state="halted", reason="drill", actor=officer
    )
    answer, sent, _behind = _submit(trader, order_body("after-halt", quantity="1"))
    assert answer["status"] == "rejected"
    assert answer["checks"][0]["code"] == "kill_switch_halted"
    assert sent - WRAP == (2 if PG else 15)  # no extra round trip for it
    kill_switch_deactivate(switch=switch, comment="drill over", actor=other)
    answer, _sent, _behind = _submit(trader, order_body("after-resume", quantity="1"))
    assert answer["status"] == "accepted"


@pytest.mark.django_db
def test_a_changed_rule_set_is_read_again_before_the_order_is_judged(trader):
    """The reads were built from the cached rule set; its version, read in the same batch,
    moved: the new rule set judges the order (one more round trip, that once)."""
    make_rule("max_notional", {"max_notional": "1"})  # bumps the rule set's version
    answer, _sent, _behind = _submit(trader, order_body("after-change", quantity="1"))
    assert answer["status"] == "rejected"
    assert any(c["threshold"] == "1" and c["status"] == "fail" for c in answer["checks"])
    assert gate._cache["version"] is not None


@pytest.mark.django_db
def test_the_same_client_order_id_again_writes_nothing(trader):
    first, _sent, _behind = _submit(trader, order_body("twice", quantity="1"))
    again, _sent, behind = _submit(trader, order_body("twice", quantity="1"))
    assert again["id"] == first["id"]
    assert behind == 0
    assert Order.objects.filter(client_order_id="twice").count() == 1
    assert OrderMessage.objects.filter(order_id=first["id"]).count() == 1


@pytest.mark.django_db
def test_token_authentication_writes_nothing(api_client_for):
    client = api_client_for(Role.VIEWER)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/instruments/").status_code == 200
    writes = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
