"""Statement ceilings on order submit, the hot path (Zulip's `queries_captured` discipline).

Ceilings for both databases, counted on SQLite, where the gate's batched reads run one by one
and an audit append is three statements; PostgreSQL sends each batch in one round trip and the
order's writes behind its audit event (exact counts per database: test_round_trips.py). One
hold rule, as in the approval tests; each further rule type with a read of its own adds one on
SQLite.
"""

import pytest

from apps.rbac.roles import Role
from tests.rules.factories import make_rule, order_body

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    make_rule("approval_threshold", {"notional": "500"}, action="hold")
    client = api_client_for(Role.TRADER)
    # A first order: the rule set is compiled and the account's daily and exposure rows exist.
    first = client.post(URL, order_body("warm-up", quantity="1"), format="json")
    assert first.json()["status"] == "accepted"
    return client


def test_submit_accepted(trader, django_assert_max_num_queries):
    # token with its user's role, account, instrument; savepoint, locked account with client id
    # and rule set version, the gate's 6 reads (price, positions, working, today's counts and
    # fills by currency, kill switches, FX rates); order, exposure (2), daily count (2), the
    # message counted for the message limits, audit (3), release (the order takes no savepoint
    # of its own inside the gate's transaction)
    with django_assert_max_num_queries(23):
        answer = trader.post(URL, order_body("small", quantity="1"), format="json").json()
    assert answer["status"] == "accepted"


def test_submit_held(trader, django_assert_max_num_queries):
    # as accepted (23), and the approval request: savepoint, insert, audit (3), the compliance
    # officers' addresses, release
    with django_assert_max_num_queries(30):
        answer = trader.post(URL, order_body("large"), format="json").json()
    assert answer["status"] == "pending_approval"


def test_submit_with_message_limits_and_self_trade_prevention(
    trader, django_assert_max_num_queries
):
    # as accepted (23), and in the gate's batch: the account's and the user's messages
    # of the last second and minute, the owner's crossing working orders (one statement each)
    make_rule("message_rate", {"max_per_second": 20, "max_per_minute": 300})
    make_rule("self_trade", {})
    trader.post(URL, order_body("recompile", quantity="1"), format="json")  # the new rule set
    with django_assert_max_num_queries(26):
        answer = trader.post(
            URL, order_body("small", quantity="1", limit_price="99"), format="json"
        )
    assert answer.json()["status"] == "accepted", answer.json()["checks"]


def test_the_firm_wide_threshold_adds_one_read_only_while_active(
    trader, django_assert_max_num_queries
):
    """The firm's aggregate joins the batch only when a firm_capital rule is in force."""
    make_rule("firm_capital", {"max_notional": "100000000"})
    trader.post(URL, order_body("recompile", quantity="1"), format="json")  # the new rule set
    # as accepted (23), and the firm's working and filled notional in one statement
    with django_assert_max_num_queries(24):
        answer = trader.post(URL, order_body("firm", quantity="1"), format="json").json()
    assert answer["status"] == "accepted"
    assert any(c["rule_type"] == "firm_capital" for c in answer["checks"])
