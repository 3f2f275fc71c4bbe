"""Each way of tampering with the stored trail is caught, and the first bad event named."""

import json

import pytest
from django.core.management import call_command
from django.db import connection

from apps.audit.events import EventType
from apps.audit.models import AuditEvent, AuditPurgeGate
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record, checkpoint_create


@pytest.fixture
def trail(db):
    for n in range(10):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
    checkpoint_create()
    assert audit_verify().ok
    return AuditEvent.objects.count()


def raw(sql: str, params=()) -> None:
    """Tamper as a database administrator would: triggers off, then plain SQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_delete")
            cursor.execute(sql, params)


def assert_broken_at(seq: int) -> None:
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == seq, result.summary()
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit")
    assert exc.value.code == 1


def test_raw_update_is_refused_by_the_database(trail):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = 3")
    assert AuditEvent.objects.get(seq=3).actor == "t"


def test_orm_delete_is_refused_unless_the_purge_gate_is_open(trail):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=10).delete()
    assert AuditPurgeGate.objects.get(pk=1).open is False


def test_changed_payload_is_caught(trail):
    row = AuditEvent.objects.get(seq=4)
    record = json.loads(row.record)
    record["payload"]["n"] = 999
    tampered = json.dumps(record, separators=(",", ":"), sort_keys=True)
    raw("UPDATE audit_auditevent SET record = %s WHERE seq = 4", [tampered])
    assert_broken_at(4)


def test_changed_column_is_caught(trail):
    raw("UPDATE audit_auditevent SET event_type = 'DATA_ACCESS' WHERE seq = 6")
    assert_broken_at(6)


def test_deleted_row_in_the_middle_is_caught(trail):
    raw("DELETE FROM audit_auditevent WHERE seq = 5")
    assert_broken_at(5)


def test_inserted_row_in_the_middle_is_caught(trail):
    # Make room by shifting the tail up, then insert a forged event at 5.
    forged = AuditEvent.objects.get(seq=5)
    raw("UPDATE audit_auditevent SET seq = seq + 1000 WHERE seq >= 5")
    raw("UPDATE audit_auditevent SET seq = seq - 999 WHERE seq >= 1005")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (seq, occurred_at, event_type, actor_type, actor, "
            "object_type, object_id, regulatory, retention_class, record, hash) "
            "VALUES (5, %s, %s, 'user', 'mallory', '', '', true, 'trading', %s, %s)",
            [forged.occurred_at, forged.event_type, forged.record, forged.hash],
        )
    assert_broken_at(5)  # the forged row itself: its columns are not its record's


def test_reordering_is_caught(trail):
    raw("UPDATE audit_auditevent SET seq = 1000 WHERE seq = 7")
    raw("UPDATE audit_auditevent SET seq = 7 WHERE seq = 8")
    raw("UPDATE audit_auditevent SET seq = 8 WHERE seq = 1000")
    assert_broken_at(7)


def test_truncated_tail_is_caught_against_the_signed_checkpoint(trail):
    raw("DELETE FROM audit_auditevent WHERE seq > 7")
    result = audit_verify()
    assert not result.ok and result.first_bad_seq == 8
    assert "truncated" in result.problem


def test_rewritten_history_is_caught_by_the_checkpoint_root(trail):
    # Rewrite event 3 and re-hash the whole tail consistently: the chain alone looks fine.
    import hashlib

    from apps.audit.canonical import canonical_bytes

    rows = list(AuditEvent.objects.filter(seq__gte=3).order_by("seq"))
    prev = AuditEvent.objects.get(seq=2).hash
    updates = []
    for row in rows:
        record = json.loads(row.record)
        if row.seq == 3:
            record["payload"]["n"] = 42
        record["prev_hash"] = prev
        text = canonical_bytes(record)
        prev = hashlib.sha256(text).hexdigest()
        updates.append((text.decode(), prev, row.seq))
    for text, digest, seq in updates:
        raw(
            "UPDATE audit_auditevent SET record = %s, hash = %s WHERE seq = %s", [text, digest, seq]
        )
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == trail and "checkpoint" in result.problem


# --- an export checked by an auditor ------------------------------------------------------------


@pytest.fixture
def exported(trail, tmp_path):
    from apps.audit.selectors import checkpoint_as_dict, checkpoint_latest

    path = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(path))
    cp = tmp_path / "checkpoint.json"
    cp.write_text(json.dumps(checkpoint_as_dict(checkpoint_latest())))
    return path, cp


def _verify_file(path, cp=None):
    args = ["verify_audit", "--export", str(path)] + (["--checkpoint", str(cp)] if cp else [])
    call_command(*args)


def test_an_untouched_export_verifies_with_its_checkpoint(exported, capsys):
    path, cp = exported
    _verify_file(path, cp)
    assert "NOT WITNESSED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "bad_seq", "words"),
    [
        (lambda e: e["payload"].update(n=77), 3, "altered"),
        (lambda e: e["payload"].update(n=1.5), 3, "floats are not allowed"),
        (lambda e: e.update(event_type="LOGIN"), 3, "altered"),
        (lambda e: e.pop("actor"), None, "not an audit event"),
    ],
)
def test_an_edited_export_line_is_refused_clearly(exported, capsys, edit, bad_seq, words):
    path, _cp = exported
    lines = path.read_text().splitlines()
    event = json.loads(lines[2])
    edit(event)
    lines[2] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exc:
        _verify_file(path)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "line 3" in err and words in err
    if bad_seq:
        assert f"BROKEN at sequence {bad_seq}" in err


def test_a_forged_line_is_refused(exported, capsys):
    path, _cp = exported
    lines = path.read_text().splitlines()
    lines.insert(4, lines[4])  # a duplicated (replayed) event
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit):
        _verify_file(path)
    assert "line 6: expected sequence 6, found 5" in capsys.readouterr().err


def test_a_truncated_export_fails_against_its_checkpoint(exported, capsys):
    path, cp = exported
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5]) + "\n")
    _verify_file(path)  # the chain alone holds
    with pytest.raises(SystemExit):
        _verify_file(path, cp)
    assert "shorter than the checkpoint" in capsys.readouterr().err


def test_a_forged_checkpoint_signature_is_refused(exported, capsys):
    path, cp = exported
    saved = json.loads(cp.read_text())
    saved["root_hash"] = "0" * 64
    cp.write_text(json.dumps(saved))
    with pytest.raises(SystemExit):
        _verify_file(path, cp)
    assert "checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "'mallory'"),
        ("retention_class", "'access'"),
        ("object_id", "'999'"),
        ("occurred_at", "'2001-01-01 00:00:00'"),
        ("regulatory", "false"),
    ],
)
def test_a_changed_column_copy_is_caught(trail, column, value):
    # The columns copy record fields for filtering and retention: they must not lie either.
    raw(f"UPDATE audit_auditevent SET {column} = {value} WHERE seq = 3")
    assert_broken_at(3)


def test_a_checkpoint_file_with_a_name_twice_is_refused(exported):
    from django.core.management.base import CommandError

    path, cp = exported
    text = cp.read_text()
    cp.write_text(text.replace("{", '{"tree_size": 1, ', 1))
    with pytest.raises(CommandError, match="appears twice"):
        _verify_file(path, cp)
