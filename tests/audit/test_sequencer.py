"""The sequencer: events are stored unsequenced by their writer and placed in the chain after
the commit, once, in order; verify reports what waits and fails on what waited too long."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.events import EventType
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.selectors import audit_export_lines, audit_verify
from apps.audit.sequencer import audit_placed, audit_sequence, pending_summary
from apps.audit.services import GENESIS_HASH, audit_record
from apps.core.time import utcnow

pytestmark = pytest.mark.audit_after_commit


def _record(n: int = 0) -> AuditEvent:
    return audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})


def test_the_writer_stores_its_event_unsequenced(db):
    row = _record()
    stored = AuditEvent.objects.get(seq=row.seq)
    assert stored.seq < 0 and stored.hash == "" and stored.queued_at is not None
    record = json.loads(stored.record)
    assert "seq" not in record and "prev_hash" not in record
    assert record["payload"] == {"n": 0}
    assert AuditChainHead.objects.get(pk=1).seq == 0  # the writer never touched the head
    assert pending_summary()[0] == 1


def test_the_sequencer_places_events_in_arrival_order_once(db):
    rows = [_record(n) for n in range(5)]
    assert audit_sequence() == 5
    assert audit_sequence() == 0  # nothing left: placed once
    placed = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in placed] == [1, 2, 3, 4, 5]
    assert [json.loads(e.record)["payload"]["n"] for e in placed] == [0, 1, 2, 3, 4]
    assert json.loads(placed[0].record)["prev_hash"] == GENESIS_HASH
    for before, after in zip(placed, placed[1:], strict=False):
        assert json.loads(after.record)["prev_hash"] == before.hash
    assert audit_placed(rows[2]).seq == 3
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (5, placed[-1].hash)
    assert audit_verify().ok


def test_the_drain_runs_after_the_writer_commits(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            _record(1)
            _record(2)
        assert AuditEvent.objects.filter(seq__lt=0).count() == 2
    assert len(callbacks) == 1  # one drain per transaction, however many events
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2]


def test_a_rolled_back_change_leaves_no_event(db):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        _record()
        raise Refused
    audit_sequence()
    assert not AuditEvent.objects.exists()


def test_readers_see_sequenced_events_only(db):
    _record(1)
    audit_sequence()
    _record(2)
    lines = [json.loads(line) for line in audit_export_lines()]
    assert [line["seq"] for line in lines] == [1]
    result = audit_verify()
    assert result.ok and result.events_checked == 1 and result.pending_events == 1
    assert "1 events waiting to be sequenced" in result.summary()


def test_verify_fails_on_an_event_left_unsequenced_past_the_delay(db, settings):
    _record(1)
    audit_sequence()
    _record(2)
    settings.AUDIT_MAX_MERGE_DELAY_SECONDS = 1.0
    later = utcnow() + timedelta(seconds=5)
    result = audit_verify(now=later)
    assert not result.ok and result.first_bad_seq == 2
    assert "not sequenced" in result.problem and "maximum merge delay" in result.problem
    settings.AUDIT_MAX_MERGE_DELAY_SECONDS = 0.0  # the event waits already, whatever its age
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit", stderr=err, stdout=io.StringIO())
    assert exc.value.code == 1
    assert "BROKEN at sequence 2" in err.getvalue() and "sequencer" in err.getvalue()


def test_the_backstop_command_and_task_drain(db):
    from apps.audit.tasks import sequence

    _record(1)
    out = io.StringIO()
    call_command("run_sequencer", "--once", stdout=out)
    assert "sequenced 1 events" in out.getvalue()
    _record(2)
    assert sequence() == 1
    assert not AuditEvent.objects.filter(seq__lt=0).exists()


def _refused(sql: str, params=()) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_allows_only_the_sequencing_step(db):
    from apps.audit.sequencer import sequenced_record

    row = _record(1)
    pending = AuditEvent.objects.get(seq=row.seq)
    record, digest = sequenced_record(pending.record, 1, GENESIS_HASH)
    update = "UPDATE audit_auditevent SET seq = %s, record = %s, hash = %s WHERE seq = %s"
    # Another column changed in the same step.
    _refused(
        "UPDATE audit_auditevent SET seq = 1, record = %s, hash = %s, actor = 'm' WHERE seq = %s",
        [record, digest, row.seq],
    )
    # A record that says something else than what the writer stored.
    forged, forged_digest = sequenced_record(
        pending.record.replace('"n":1', '"n":9'), 1, GENESIS_HASH
    )
    _refused(update, [1, forged, forged_digest, row.seq])
    # A record whose seq is not the row's.
    _refused(update, [2, record, digest, row.seq])
    # An unsequenced event cannot be deleted either.
    _refused("DELETE FROM audit_auditevent WHERE seq = %s", [row.seq])
    if connection.vendor == "postgresql":  # there the trigger checks the hash too
        _refused(update, [1, record, "0" * 64, row.seq])
    # The one step the sequencer takes goes through, once.
    audit_sequence()
    placed = AuditEvent.objects.get(seq=1)
    assert (placed.record, placed.hash) == (record, digest)
    _refused(update, [2, record, digest, 1])
    _refused("UPDATE audit_auditevent SET hash = '' WHERE seq = 1")


def test_sequencing_inside_a_transaction_places_its_own_events(db):
    with transaction.atomic():
        row = _record(1)
        placed = audit_placed(row)
        assert placed.seq == 1 and json.loads(placed.record)["payload"] == {"n": 1}
    assert audit_verify().ok


def test_the_api_list_and_the_export_place_what_has_committed_first(db, api_client_for, tmp_path):
    from apps.rbac.roles import Role

    client = api_client_for(Role.COMPLIANCE_OFFICER)
    _record(1)
    assert AuditEvent.objects.filter(seq__lt=0).exists()
    listed = client.get("/api/v1/audit/events/").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert items[-1]["payload"] == {"n": 1}
    assert all(e["seq"] > 0 for e in items)
    _record(2)
    out = tmp_path / "trail.jsonl"
    call_command("export_audit", "--out", str(out), stderr=io.StringIO())
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["event_type"] == "DATA_ACCESS"  # it ends with its own event
    assert lines[-1]["payload"]["action"] == "export"


def test_a_lower_role_cannot_list_the_trail(db, api_client_for):
    from apps.rbac.roles import Role

    assert api_client_for(Role.RISK_MANAGER).get("/api/v1/audit/events/").status_code == 403
