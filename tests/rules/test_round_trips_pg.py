"""Round trips of an accepted order on PostgreSQL, counted at the driver (issue 21): the
transaction's BEGIN goes with the locked batch, the order's writes with its audit event, then
COMMIT. Run in a transaction of its own (not the test's), so that BEGIN and COMMIT are real."""

from django.db import connection

from apps.audit import services as audit_services
from apps.rbac.roles import Role
from tests.rules.factories import make_rule, order_body

URL = "/api/v1/orders/"


def _three_round_trips(audit_transactional_db, api_client_for, account, instrument, monkeypatch):
    make_rule("max_notional", {"max_notional": "5000"})
    client = api_client_for(Role.TRADER)
    assert client.post(URL, order_body("warm-up", quantity="1"), format="json").status_code == 201
    # The sequencer's drain after the commit is not the order's (it places whatever committed).
    monkeypatch.setattr(audit_services, "sequence_after_commit", lambda: None)
    raw = connection.connection
    sent = []
    real_command, real_send = raw._exec_command, type(raw.cursor())._execute_send

    def command(cmd, *args, **kwargs):
        sent.append(bytes(cmd).split()[0].decode())
        return real_command(cmd, *args, **kwargs)

    def send(cursor, query, *args, **kwargs):
        sent.append(query.query.split(b" ", 1)[0].decode().rstrip(";"))
        return real_send(cursor, query, *args, **kwargs)

    monkeypatch.setattr(raw, "_exec_command", command)
    monkeypatch.setattr(type(raw.cursor()), "_execute_send", send)
    answer = client.post(URL, order_body("counted", quantity="1"), format="json")
    assert answer.json()["status"] == "accepted"
    # BEGIN with the locked batch; the audit insert carrying the order's writes (each sent as
    # EXECUTE of the statement prepared on this connection); COMMIT.
    assert sent == ["BEGIN", "EXECUTE", "COMMIT"], sent


# Round trips to a server: defined where the suite runs on PostgreSQL (SQLite runs in process).
if connection.vendor == "postgresql":
    test_an_accepted_order_is_three_round_trips = _three_round_trips
