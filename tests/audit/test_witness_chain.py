"""The chain of witnessed checkpoints, the unsigned tail, key rotation and the purge statement.

Every test here runs on SQLite and on PostgreSQL (DATABASE_URL): the attacks are plain SQL.
"""

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit import merkle, signing
from apps.audit.events import EventType
from apps.audit.models import Checkpoint
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record, checkpoint_create
from apps.core.time import utcnow
from tests.audit.test_witness import _public_pem, _seed, witness_lines


def _rewrite_witness(directory, lines) -> None:
    """The witness as someone who could write it would leave it (a test of the verifier only:
    the witness is where the database's owner cannot write)."""
    for path in directory.glob("witness-*.jsonl"):
        path.unlink()
    (directory / "witness-2026-01-01.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
    )


def test_each_witness_line_proves_it_extends_the_one_before(trail):
    lines = witness_lines(trail)
    assert [line["consistency_proof"] for line in lines][0] == []
    for line in lines[1:]:
        proof = [bytes.fromhex(h) for h in line["consistency_proof"]]
        assert proof
        assert merkle.verify_consistency(
            line["prev_tree_size"],
            line["tree_size"],
            bytes.fromhex(line["prev_root_hash"]),
            bytes.fromhex(line["root_hash"]),
            proof,
        )
        # the same proof the API gives
        from apps.audit.selectors import consistency_proof

        api = consistency_proof(first=line["prev_tree_size"], second=line["tree_size"])
        assert api["proof"] == line["consistency_proof"]


def test_a_missing_witness_line_is_a_gap_naming_the_first_unaccounted_event(trail, capsys):
    lines = witness_lines(trail)
    _rewrite_witness(trail, [lines[0], lines[2]])  # the line at 10 is gone
    result = audit_verify()
    assert not result.ok and result.first_bad_seq == 6, result.summary()
    assert "gap in the witnessed checkpoints" in result.problem
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit")
    assert exc.value.code == 1
    assert "BROKEN at sequence 6" in capsys.readouterr().err


def test_a_witness_line_with_a_wrong_consistency_proof_is_caught(trail):
    lines = witness_lines(trail)
    lines[2]["consistency_proof"] = lines[1]["consistency_proof"]
    _rewrite_witness(trail, lines)
    result = audit_verify()
    assert not result.ok and result.first_bad_seq == 11, result.summary()
    assert "consistency proof" in result.problem


def test_the_witness_may_start_after_the_first_checkpoints(trail, capsys):
    _rewrite_witness(trail, witness_lines(trail)[1:])
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert out.startswith("OK:") and "from tree size 5 on" in out


# --- the unsigned tail ------------------------------------------------------------------------


def test_the_checkpoint_schedule_follows_the_setting():
    spec = django_settings.PERIODIC_TASKS["audit checkpoint"]
    assert spec == {"task": "audit.checkpoint", "every": django_settings.AUDIT_CHECKPOINT_SECONDS}


def test_verify_reports_the_unsigned_tail_and_fails_past_the_bound(trail, capsys):
    now = utcnow()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor="t",
        payload={},
        occurred_at=now - timedelta(seconds=900),
    )
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    result = audit_verify(max_unsigned_seconds=600)
    assert not result.ok and result.first_bad_seq == 16, result.summary()
    assert result.unsigned_events == 2 and result.unsigned_seconds >= 900
    assert "more than the 600 s allowed" in result.problem
    with pytest.raises(SystemExit):
        call_command("verify_audit")  # the default bound, AUDIT_MAX_UNSIGNED_SECONDS
    capsys.readouterr()
    call_command("verify_audit", "--max-unsigned-seconds", "3600")
    out = capsys.readouterr().out
    # (the failed run recorded its own read: one more event waits)
    assert "3 events past the last witnessed checkpoint, the oldest waiting 9" in out
    call_command("verify_audit", "--max-unsigned-seconds", "0")  # no bound


def test_the_tail_is_counted_from_the_last_witnessed_checkpoint(trail, settings):
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    settings.AUDIT_WITNESS_DIR = str(trail / "gone")  # the next checkpoint is not witnessed
    checkpoint_create()
    settings.AUDIT_WITNESS_DIR = str(trail)
    result = audit_verify()
    assert result.ok and result.unsigned_events == 1  # signed, but not witnessed
    settings.AUDIT_WITNESS_DIR = ""
    assert audit_verify().unsigned_events == 0


# --- keys ---------------------------------------------------------------------------------------


@pytest.fixture
def rotated(trail, platform_key, tmp_path, settings, checkpoint):
    """Checkpoints at 5, 10, 15 by the first key; a rotation at 16; 17 signed by the new key."""
    new = Ed25519PrivateKey.generate()
    new_file = tmp_path / "new.pem"
    new_file.write_bytes(
        new.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    old_pem, new_pem = tmp_path / "old-public.pem", tmp_path / "new-public.pem"
    old_pem.write_bytes(_public_pem(platform_key))
    new_pem.write_bytes(_public_pem(new))

    def rotate():
        call_command("rotate_audit_key", "--new-key-file", str(new_file))

    return {
        "old": platform_key,
        "new": new,
        "old_pem": old_pem,
        "new_pem": new_pem,
        "rotate": rotate,
    }


def _switch_key(settings, key) -> None:
    settings.AUDIT_SIGNING_KEY = _seed(key)
    signing.private_key.cache_clear()


def test_a_rotation_is_signed_by_both_keys_and_trust_follows_it_either_way(
    rotated, settings, django_capture_on_commit_callbacks, capsys
):
    with django_capture_on_commit_callbacks(execute=True):
        rotated["rotate"]()
    assert "hands over" in capsys.readouterr().out
    rotation = Checkpoint.objects.get(tree_size=16).rotation
    assert rotation["to"] == signing.raw_public(rotated["new"])
    # The old key signs nothing more.
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    assert checkpoint_create() is None
    _switch_key(settings, rotated["new"])
    with django_capture_on_commit_callbacks(execute=True):
        assert checkpoint_create().tree_size == 17
    assert [line["tree_size"] for line in witness_lines(settings_path(settings))][-2:] == [16, 17]
    for pem in ("old_pem", "new_pem"):  # pin either key: the rotation carries trust across
        call_command("verify_audit", "--public-key", str(rotated[pem]))
        assert capsys.readouterr().out.startswith("OK:")
    assert audit_verify().ok  # the platform's (new) key alone trusts the old one back
    other = settings_path(settings).parent / "other.pem"
    other.write_bytes(_public_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(SystemExit):
        call_command("verify_audit", "--public-key", str(other))


def settings_path(settings):
    from pathlib import Path

    return Path(settings.AUDIT_WITNESS_DIR)


def test_the_old_key_cannot_sign_after_it_handed_over(
    rotated, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rotated["rotate"]()
    # Whoever kept the old key signs a checkpoint after the rotation, by hand.
    from apps.audit.services import _leaves_between, checkpoint_message, merkle_leaves_extend

    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    rotation = Checkpoint.objects.order_by("-tree_size").first()
    assert rotation.tree_size == 16 and rotation.rotation
    merkle_leaves_extend()
    frontier = merkle.Frontier.from_list(rotation.frontier)
    frontier.extend(_leaves_between(16, 17))
    created = utcnow()
    root = frontier.root().hex()
    message = checkpoint_message(tree_size=17, root_hash=root, created_at=created)
    Checkpoint.objects.create(
        tree_size=17,
        root_hash=root,
        created_at=created,
        key_id=signing.key_id(),
        signature=signing.sign(message),
        frontier=frontier.to_list(),
    )
    result = audit_verify(public_keys=[signing.load_public_key(str(rotated["old_pem"]))])
    assert not result.ok and result.first_bad_seq == 17, result.summary()
    assert "handed over at tree size 16" in result.problem


def test_several_pinned_keys_and_a_keyring(trail, platform_key, tmp_path, capsys):
    other = Ed25519PrivateKey.generate()
    one, two = tmp_path / "one.pem", tmp_path / "two.pem"
    one.write_bytes(_public_pem(other))
    two.write_bytes(_public_pem(platform_key))
    call_command("verify_audit", "--public-key", str(one), "--public-key", str(two))
    assert capsys.readouterr().out.startswith("OK:")
    ring = tmp_path / "keyring"
    ring.write_text(
        f"# audit keys\n{signing.raw_public(other)}\n{signing.raw_public(platform_key)}\n"
    )
    call_command("verify_audit", "--keyring", str(ring))
    assert capsys.readouterr().out.startswith("OK:")
    ring.write_text(f"{signing.raw_public(other)}\n")
    with pytest.raises(SystemExit):
        call_command("verify_audit", "--keyring", str(ring))
    ring.write_text("not a key\n")
    with pytest.raises(CommandError, match="keyring line 1"):
        call_command("verify_audit", "--keyring", str(ring))


# --- the purge statement ------------------------------------------------------------------------


@pytest.fixture
def purged(db, platform_key, settings, make_user):
    from apps.audit.services import audit_purge
    from apps.rbac.roles import Role

    settings.AUDIT_WITNESS_DIR = ""
    old = utcnow() - timedelta(days=4000)
    for n in range(4):
        audit_record(
            event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n}, occurred_at=old
        )
    result = audit_purge(actor=make_user(role=Role.ADMIN))
    assert result.count >= 4
    return result


def test_the_purge_statement_is_verified(purged, platform_key, tmp_path):
    assert audit_verify(public_keys=[signing.public_key_bytes()]).ok
    other = Ed25519PrivateKey.generate()
    result = audit_verify(public_keys=[bytes.fromhex(signing.raw_public(other))])
    assert not result.ok and result.first_bad_seq == purged.event.seq, result.summary()
    assert "purge statement" in result.problem


def test_a_rewritten_purge_statement_is_caught(purged):
    import hashlib

    from apps.audit.canonical import canonical_bytes
    from tests.audit.test_tampering import raw

    row = purged.event
    record = json.loads(row.record)
    record["payload"]["statement"]["count"] = 1
    record["payload"]["count"] = 1
    text = canonical_bytes(record)
    digest = hashlib.sha256(text).hexdigest()
    raw(
        "UPDATE audit_auditevent SET record = %s, hash = %s WHERE seq = %s",
        [text.decode(), digest, row.seq],
    )
    raw("UPDATE audit_auditchainhead SET hash = %s WHERE id = 1", [digest])
    result = audit_verify()
    assert not result.ok and result.first_bad_seq == row.seq, result.summary()
    assert "purge statement's signature" in result.problem


def test_rotating_to_the_key_in_use_is_refused(db, platform_key, tmp_path):
    same = tmp_path / "same.pem"
    same.write_bytes(
        platform_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    with pytest.raises(CommandError, match="in use already"):
        call_command("rotate_audit_key", "--new-key-file", str(same))
    assert not Checkpoint.objects.exists()
    with pytest.raises(CommandError, match="Cannot read the new key"):
        call_command("rotate_audit_key", "--new-key-file", str(tmp_path / "missing.pem"))
