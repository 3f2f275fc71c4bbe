"""Round trips and statements of an accepted order on PostgreSQL, counted at the driver
(issue 21): the transaction's BEGIN goes with the locked batch, the order's writes with its
audit event, then COMMIT. Run in a transaction of its own (not the test's), so that BEGIN and
COMMIT are real. Under a rule of every type the demo runs, the server executes ten statements
besides BEGIN and COMMIT: the account's lock, one statement of every single-row read (lateral
subqueries), the seven reads of several rows (positions, working exposure, today's figures, kill
switches, FX rates, restricted list, crossing orders), and one write carrying the order's four
writes as CTEs of its audit event's insert."""

import re

from django.db import connection

from apps.audit import services as audit_services
from apps.rbac.roles import Role
from tests.rules.factories import make_rule, order_body

URL = "/api/v1/orders/"


# A rule of each type the demo runs (each type adds its reads to the batch).
EVERY_TYPE = [
    ("restricted_list", {}),
    ("market_access", {"default": "allow"}),
    ("price_collar", {"max_deviation_pct": "50"}),
    ("max_notional", {"max_notional": "5000"}),
    ("position_limit", {"max_value": "20000000"}),
    ("gross_notional", {"max_gross_notional": "100000000"}),
    ("daily_volume", {"max_notional": "50000000"}),
    ("order_rate", {"max_per_minute": 1000}),
    ("message_rate", {"max_per_second": 1000}),
    ("duplicate_order", {"window_seconds": 5}),
    ("self_trade", {}),
    ("credit_limit", {}),
]


def _three_round_trips(audit_transactional_db, api_client_for, account, instrument, monkeypatch):
    for rule_type, params in EVERY_TYPE:
        make_rule(rule_type, params)
    client = api_client_for(Role.TRADER)
    # Two orders first: the rule set compiled and cached, every statement prepared.
    for n in range(2):
        warm = client.post(URL, order_body(f"warm-{n}", quantity="1"), format="json")
        assert warm.status_code == 201
    # The sequencer's drain after the commit is not the order's (it places whatever committed).
    monkeypatch.setattr(audit_services, "sequence_after_commit", lambda: None)
    raw = connection.connection
    sent = []
    real_command, real_send = raw._exec_command, type(raw.cursor())._execute_send

    def command(cmd, *args, **kwargs):
        sent.append(bytes(cmd).split()[0].decode())
        return real_command(cmd, *args, **kwargs)

    def send(cursor, query, *args, **kwargs):
        sent.append(query.query.decode())
        return real_send(cursor, query, *args, **kwargs)

    monkeypatch.setattr(raw, "_exec_command", command)
    monkeypatch.setattr(type(raw.cursor()), "_execute_send", send)
    answer = client.post(URL, order_body("counted", quantity="1", limit_price="101"), format="json")
    assert answer.json()["status"] == "accepted", answer.json()
    # Three round trips: BEGIN with the locked batch; the audit insert carrying the order's
    # writes; COMMIT. Each statement is the EXECUTE of one prepared on this connection.
    assert len(sent) == 3 and sent[0].startswith("BEGIN; ") and sent[2] == "COMMIT", sent
    assert sent[0].startswith("BEGIN; ")
    reads = re.findall(r"; EXECUTE sql_\d+", sent[0])
    writes = re.findall(r"(?:^|; )EXECUTE sql_\d+", sent[1])
    # The lock, the single-row reads as one, seven reads of several rows; one write.
    assert (len(reads), len(writes)) == (9, 1), sent[:2]


# Round trips to a server: defined where the suite runs on PostgreSQL (SQLite runs in process).
if connection.vendor == "postgresql":
    test_an_accepted_order_is_three_round_trips = _three_round_trips
