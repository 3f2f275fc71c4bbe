"""Who read the trail: every read or export of it writes exactly one DATA_ACCESS event on
`audit.auditevent` naming the reader, after the read (a list never holds its own event)."""

import json

import pytest
from django.core.management import call_command

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, checkpoint_create
from apps.rbac.roles import Role


@pytest.fixture
def logged(db):
    for n in range(13):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
    return checkpoint_create()


def _reads_since(seq: int) -> list[dict]:
    rows = AuditEvent.objects.filter(
        seq__gt=seq, event_type=EventType.DATA_ACCESS, object_type="audit.auditevent"
    ).order_by("seq")
    return [json.loads(row.record) for row in rows]


def _head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _one_read(since: int, actor: str) -> dict:
    reads = _reads_since(since)
    assert len(reads) == 1, reads
    assert reads[0]["actor"] == actor
    return reads[0]["payload"]


@pytest.mark.parametrize(
    ("url", "role", "expected"),
    [
        (
            "/api/v1/audit/events/?event_type=CONFIG_CHANGED&limit=5&offset=2",
            Role.COMPLIANCE_OFFICER,
            {"action": "list", "count": 5, "first_seq": 3, "last_seq": 7},
        ),
        (
            "/api/v1/audit/verify/",
            Role.COMPLIANCE_OFFICER,
            {"action": "verify", "ok": True, "first_bad_seq": None, "first_seq": 1},
        ),
        ("/api/v1/audit/checkpoints/latest/", Role.COMPLIANCE_OFFICER, {"action": "checkpoint"}),
        (
            "/api/v1/audit/events/4/proof/",
            Role.COMPLIANCE_OFFICER,
            {"action": "inclusion_proof", "seq": 4, "tree_size": 13},
        ),
        (
            "/api/v1/audit/checkpoints/consistency/?first=13",
            Role.COMPLIANCE_OFFICER,
            {"action": "consistency_proof", "first": 13, "second": 13},
        ),
    ],
)
def test_each_api_read_writes_one_event_naming_the_reader(
    api_client_for, make_user, logged, url, role, expected
):
    user = make_user(role)
    client = api_client_for(user=user)
    since = _head()
    response = client.get(url)
    assert response.status_code == 200, response.content
    payload = _one_read(since, user.username)
    assert payload["via"] == "api"
    assert expected.items() <= payload.items(), payload


def test_the_list_records_its_filters_and_never_holds_its_own_event(
    api_client_for, make_user, logged
):
    user = make_user(Role.COMPLIANCE_OFFICER)
    client = api_client_for(user=user)
    since = _head()
    client.get("/api/v1/audit/events/?event_type=CONFIG_CHANGED&actor=t")
    payload = _one_read(since, user.username)
    assert payload["params"] == {"event_type": "CONFIG_CHANGED", "actor": "t"}
    assert payload["count"] == 13
    seqs = [row["seq"] for row in client.get("/api/v1/audit/events/?limit=1000").json()["results"]]
    assert max(seqs) < _head()  # the second read's own event came after what it returned


def test_export_records_itself_once_and_includes_that_event(api_client_for, make_user, logged):
    user = make_user(Role.COMPLIANCE_OFFICER)
    since = _head()
    response = api_client_for(user=user).get("/api/v1/audit/export/")
    lines = b"".join(response.streaming_content).decode().splitlines()
    payload = _one_read(since, user.username)
    assert payload == {"action": "export", "via": "api", "target": "api"}
    assert json.loads(lines[-1])["seq"] == _head()


def test_a_refused_read_is_recorded_as_refused(api_client_for, make_user, logged):
    trader = make_user(Role.TRADER)
    since = _head()
    response = api_client_for(user=trader).get("/api/v1/audit/verify/?x=1")
    assert response.status_code == 403
    payload = _one_read(since, trader.username)
    assert payload == {"action": "verify", "via": "api", "outcome": "refused", "params": {"x": "1"}}


def test_an_anonymous_or_bad_request_writes_nothing(api_client_for, logged):
    from rest_framework.test import APIClient

    since = _head()
    assert APIClient().get("/api/v1/audit/events/").status_code == 401
    assert _reads_since(since) == []
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    since = _head()
    assert client.get("/api/v1/audit/checkpoints/consistency/?first=x").status_code == 400
    assert _reads_since(since) == []


def test_long_query_values_are_cut(api_client_for, logged):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    since = _head()
    client.get("/api/v1/audit/events/", {"actor": "a" * 5000})
    reads = _reads_since(since)
    assert len(reads) == 1 and len(reads[0]["payload"]["params"]["actor"]) == 200


def test_the_admin_pages_record_each_view(client, make_user, logged):
    viewer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(viewer)
    since = _head()
    assert client.get("/admin/audit/auditevent/?event_type=CONFIG_CHANGED").status_code == 200
    payload = _one_read(since, viewer.username)
    assert payload["action"] == "admin_list:audit.auditevent" and payload["via"] == "admin"
    assert payload["params"] == {"event_type": "CONFIG_CHANGED"}
    shown = AuditEvent.objects.filter(event_type=EventType.CONFIG_CHANGED, seq__lte=since)
    assert (payload["count"], payload["first_seq"], payload["last_seq"]) == (
        shown.count(),
        1,
        shown.order_by("-seq")[0].seq,
    )

    since = _head()
    assert client.get("/admin/audit/auditevent/5/change/").status_code == 200
    assert _one_read(since, viewer.username) == {
        "action": "admin_detail:audit.auditevent",
        "via": "admin",
        "seq": 5,
    }

    since = _head()
    assert client.get("/admin/audit/checkpoint/").status_code == 200
    payload = _one_read(since, viewer.username)
    assert payload["first_tree_size"] == payload["last_tree_size"] == logged.tree_size


def test_the_admin_verify_action_records_once(client, make_user, logged):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    since = _head()
    response = client.post(
        "/admin/audit/auditevent/", {"action": "verify_chain", "_selected_action": ["1"]}
    )
    assert response.status_code == 302
    payload = _one_read(since, officer.username)
    assert payload["action"] == "verify" and payload["via"] == "admin" and payload["ok"] is True


def test_the_commands_record_their_reads(logged, tmp_path, capsys):
    since = _head()
    call_command("verify_audit")
    payload = _one_read(since, "command:verify_audit")
    assert payload["action"] == "verify" and payload["via"] == "command"
    assert payload["last_seq"] == since

    since = _head()
    call_command("export_audit", "--out", str(tmp_path / "a.jsonl"))
    assert _one_read(since, "command:export_audit") == {
        "action": "export",
        "via": "command",
        "target": "file",
    }
