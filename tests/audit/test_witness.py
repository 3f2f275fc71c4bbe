"""The witness: checkpoints kept outside the database, and the attacks they catch.

Each attack is what a database superuser could do (triggers off, plain SQL): without a witness
the trail still agrees with itself; with one, verify_audit exits 1 naming the first sequence
number it cannot account for.
"""

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection

from apps.audit import signing
from apps.audit.canonical import canonical_bytes
from apps.audit.events import EventType
from apps.audit.models import AuditEvent, Checkpoint
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record
from apps.rbac.roles import Role
from tests.audit.test_tampering import raw


def _seed(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def delete_checkpoints(where: str = "1 = 1") -> None:
    """Delete stored checkpoints as a database superuser would: on PostgreSQL with the table's
    triggers off (a row update no longer opens the purge gate there); on SQLite by opening the
    gate with a plain UPDATE."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
            cursor.execute(f"DELETE FROM audit_checkpoint WHERE {where}")  # noqa: S608
            cursor.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER")
            return
        cursor.execute("UPDATE audit_auditpurgegate SET open = %s WHERE id = 1", [True])
        cursor.execute(f"DELETE FROM audit_checkpoint WHERE {where}")  # noqa: S608
        cursor.execute("UPDATE audit_auditpurgegate SET open = %s WHERE id = 1", [False])


def witness_lines(directory) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("witness-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def assert_caught(seq: int, *args, without_witness_ok: bool = True, settings=None) -> str:
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == seq, result.summary()
    if settings is not None:  # the attack fools the database alone
        witness, settings.AUDIT_WITNESS_DIR = settings.AUDIT_WITNESS_DIR, ""
        assert audit_verify().ok is without_witness_ok
        settings.AUDIT_WITNESS_DIR = witness
    # (before the command, which records its own read of the trail)
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit", *args)
    assert exc.value.code == 1
    return result.problem


def test_every_checkpoint_is_appended_to_the_day_file_naming_the_one_before(trail):
    files = list(trail.glob("witness-*.jsonl"))
    assert len(files) == 1
    lines = witness_lines(trail)
    stored = {c.tree_size: c for c in Checkpoint.objects.all()}
    assert [line["tree_size"] for line in lines] == [5, 10, 15]
    assert [line["prev_tree_size"] for line in lines] == [0, 5, 10]
    assert lines[0]["prev_root_hash"] is None
    assert lines[1]["prev_root_hash"] == stored[5].root_hash
    for line in lines:
        cp = stored[line["tree_size"]]
        assert (line["root_hash"], line["signature"], line["key_id"]) == (
            cp.root_hash,
            cp.signature,
            cp.key_id,
        )
        assert files[0].name == f"witness-{line['created_at'][:10]}.jsonl"


def test_an_intact_trail_agrees_with_the_witness(trail, capsys):
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "OK: 15 events" in out and "agrees with 3 witnessed checkpoints" in out


def test_without_a_witness_the_summary_says_so(trail, settings, capsys):
    settings.AUDIT_WITNESS_DIR = ""
    call_command("verify_audit")
    assert "nothing outside the database vouches for this trail" in capsys.readouterr().out
    call_command("verify_audit", "--witness", str(trail))
    assert "agrees with 3 witnessed checkpoints" in capsys.readouterr().out


def test_a_witness_that_cannot_be_written_never_undoes_the_checkpoint(
    db, settings, tmp_path, checkpoint, caplog
):
    settings.AUDIT_WITNESS_DIR = str(tmp_path / "missing")
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    assert checkpoint().tree_size == 1
    assert Checkpoint.objects.filter(tree_size=1).exists()
    assert "audit witness not written" in caplog.text


def test_a_truncated_tail_with_its_checkpoints_deleted_is_caught(trail, settings):
    raw("DELETE FROM audit_auditevent WHERE seq > 7")
    delete_checkpoints("tree_size > 7")
    problem = assert_caught(8, settings=settings)
    assert "truncated" in problem and "witnessed checkpoint at 15" in problem


def _rewrite_from(seq: int) -> None:
    """Change event `seq` and re-hash every later one, as an attacker who knows the format."""
    rows = list(AuditEvent.objects.filter(seq__gte=seq).order_by("seq"))
    prev = AuditEvent.objects.get(seq=seq - 1).hash
    updates = []
    for row in rows:
        record = json.loads(row.record)
        if row.seq == seq:
            record["payload"]["n"] = 4242
        record["prev_hash"] = prev
        text = canonical_bytes(record)
        prev = hashlib.sha256(text).hexdigest()
        updates.append((text.decode(), prev, row.seq))
    for text, digest, n in updates:
        raw("UPDATE audit_auditevent SET record = %s, hash = %s WHERE seq = %s", [text, digest, n])


def test_a_rewritten_and_rehashed_history_with_its_checkpoints_deleted_is_caught(trail, settings):
    _rewrite_from(6)
    delete_checkpoints("tree_size >= 6")
    problem = assert_caught(6, settings=settings)
    assert "events 6..10" in problem and "witnessed checkpoint at 10" in problem


def test_a_rewrite_with_every_checkpoint_deleted_names_the_first_unmatched_event(trail):
    _rewrite_from(12)
    delete_checkpoints()
    result = audit_verify()
    assert not result.ok and result.first_bad_seq == 11, result.summary()
    assert "events 11..15" in result.problem


def test_every_checkpoint_deleted_is_caught(trail, settings):
    delete_checkpoints()
    problem = assert_caught(1, settings=settings)
    assert "missing from the database" in problem


def test_a_later_checkpoint_deleted_is_caught(trail, settings):
    delete_checkpoints("tree_size = 10")
    assert "checkpoint at 10" in assert_caught(6, settings=settings)


def test_an_unreadable_witness_is_a_clear_error(trail):
    from django.core.management.base import CommandError

    (trail / "witness-2000-01-01.jsonl").write_text("not json\n")
    with pytest.raises(CommandError, match="line 1 is not a witness line"):
        call_command("verify_audit")


# --- the pinned key -------------------------------------------------------------------------------


@pytest.fixture
def pinned(platform_key, tmp_path):
    path = tmp_path / "audit-public.pem"
    path.write_bytes(_public_pem(platform_key))
    return path


def test_the_pinned_key_verifies_an_intact_trail(trail, pinned, tmp_path, capsys):
    call_command("verify_audit", "--public-key", str(pinned))
    assert "agrees with 3 witnessed checkpoints" in capsys.readouterr().out
    as_hex = tmp_path / "audit-public.hex"
    as_hex.write_text(signing.public_key_bytes().hex() + "\n")
    call_command("verify_audit", "--public-key", str(as_hex))
    assert "OK: 16 events" in capsys.readouterr().out  # the first verification was recorded


def test_a_checkpoint_signed_by_another_key_fails_against_the_pinned_key(
    trail, pinned, settings, checkpoint
):
    # The attacker controls the database and the platform's configuration, not the real key:
    # they replace the latest checkpoint with one signed by their own key.
    settings.AUDIT_WITNESS_DIR = ""
    delete_checkpoints("tree_size = 15")
    settings.AUDIT_SIGNING_KEY = _seed(Ed25519PrivateKey.generate())
    signing.private_key.cache_clear()
    checkpoint()
    assert audit_verify().ok  # the platform's (swapped) key agrees with itself
    result = audit_verify(public_key=signing.load_public_key(str(pinned)))
    assert not result.ok and result.first_bad_seq == 11, result.summary()
    assert "not signed by the pinned key" in result.problem
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit", "--public-key", str(pinned))
    assert exc.value.code == 1
    # With the witness, the pinned key is what it is checked against too.
    with pytest.raises(SystemExit):
        call_command("verify_audit", "--public-key", str(pinned), "--witness", str(trail))


def test_a_witness_signed_by_another_key_fails(trail, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(_public_pem(Ed25519PrivateKey.generate()))
    result = audit_verify(public_key=signing.load_public_key(str(other)))
    assert not result.ok and result.first_bad_seq == 1
    assert "witnessed checkpoint at 5" in result.problem


def test_an_export_checkpoint_is_checked_with_the_pinned_key_not_its_own(
    trail, pinned, tmp_path, capsys
):
    from apps.audit.selectors import checkpoint_as_dict, checkpoint_latest

    export = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(export))
    # A checkpoint re-signed by someone else's key, carrying that key: fine on its own terms.
    forger = Ed25519PrivateKey.generate()
    saved = checkpoint_as_dict(checkpoint_latest())
    message = (
        f"trade-compliance-audit\n{saved['tree_size']}\n{saved['root_hash']}\n"
        f"{saved['created_at']}\n"
    ).encode()
    raw_public = forger.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    saved.update(
        signature=base64.b64encode(forger.sign(message)).decode(),
        public_key=raw_public.hex(),
        key_id=signing.key_id_of(raw_public),
    )
    cp = tmp_path / "checkpoint.json"
    cp.write_text(json.dumps(saved))
    call_command("verify_audit", "--export", str(export), "--checkpoint", str(cp))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        call_command(
            "verify_audit",
            "--export",
            str(export),
            "--checkpoint",
            str(cp),
            "--public-key",
            str(pinned),
        )
    assert exc.value.code == 1
    assert "not the pinned key" in capsys.readouterr().err


def test_the_verify_api_answers_503_when_the_witness_cannot_be_read(
    db, settings, tmp_path, api_client_for
):
    broken = tmp_path / "broken-witness"
    broken.mkdir()
    (broken / "witness-2026-12-01.jsonl").write_text("not json\n")
    settings.AUDIT_WITNESS_DIR = str(broken)
    response = api_client_for(Role.COMPLIANCE_OFFICER).get("/api/v1/audit/verify/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "witness_unavailable"
    # a readable witness (here: none yet) verifies as before
    settings.AUDIT_WITNESS_DIR = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    assert api_client_for(Role.COMPLIANCE_OFFICER).get("/api/v1/audit/verify/").status_code == 200


def test_opening_the_purge_gate_with_an_update_to_delete_events_is_caught(trail, settings):
    """PostgreSQL refuses the UPDATE (only audit_purge_gate_open() opens the gate, inside the
    purge); SQLite's gate is a row the update opens, and the deletion it lets through is then
    caught against the witness, naming the first missing event."""
    from django.db import DatabaseError, transaction

    from apps.audit.models import AuditPurgeGate

    AuditPurgeGate.objects.get_or_create(pk=1)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with pytest.raises(DatabaseError, match="opens only through"), transaction.atomic():
                cursor.execute("UPDATE audit_auditpurgegate SET open = true WHERE id = 1")
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute("DELETE FROM audit_auditevent WHERE seq > 12")
            assert AuditEvent.objects.count() == 15
            return
        cursor.execute("UPDATE audit_auditpurgegate SET open = %s WHERE id = 1", [True])
        cursor.execute("DELETE FROM audit_auditevent WHERE seq > 12")
        cursor.execute("UPDATE audit_auditpurgegate SET open = %s WHERE id = 1", [False])
    delete_checkpoints("tree_size > 12")
    problem = assert_caught(13, settings=settings)
    assert "truncated" in problem


def test_a_witness_line_with_a_name_twice_is_refused(trail):
    """A line read one way here and another way by a first-wins parser is not a witness line."""
    from django.core.management.base import CommandError

    path = sorted(trail.glob("witness-*.jsonl"))[0]
    first, *rest = path.read_text().splitlines()
    doubled = '{"tree_size": 999999, ' + first[1:]
    path.write_text("\n".join([doubled, *rest]) + "\n")
    with pytest.raises(CommandError, match="line 1 is not a witness line"):
        call_command("verify_audit")
