"""Retention: purge the expired prefix, and the chain and checkpoints still verify."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit import merkle
from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_export_lines, audit_verify, consistency_proof
from apps.audit.services import audit_purge, audit_record, checkpoint_create
from apps.core.errors import PermissionDenied
from apps.rbac.roles import Role


def _old_and_new(now):
    old = now - timedelta(days=4 * 365)  # past the 3-year access retention
    for n in range(6):
        audit_record(
            event_type=EventType.SYSTEM_ACCESS,
            actor="t",
            payload={"n": n},
            occurred_at=old + timedelta(minutes=n),
        )
    for n in range(4):
        audit_record(event_type=EventType.SYSTEM_ACCESS, actor="t", payload={"n": 100 + n})


def test_a_recent_event_in_front_holds_the_purge_back(make_user):
    admin = make_user(Role.ADMIN)  # its creation events are recent and come first
    _old_and_new(timezone.now())
    result = audit_purge(actor=admin)
    assert result.count == 0 and result.event is None
    assert audit_verify().ok


def test_purge_removes_the_expired_prefix_and_verification_continues(db, make_user, tmp_path):
    now = timezone.now()
    _old_and_new(now)
    checkpoint_create()
    admin = make_user(Role.ADMIN)  # after the old events, so the prefix is purgeable
    result = audit_purge(actor=admin, now=now)
    assert (result.purged_from, result.purged_to, result.count) == (1, 6, 6)
    assert not AuditEvent.objects.filter(seq__lte=6).exists()
    purged = json.loads(AuditEvent.objects.filter(event_type="DATA_PURGED").get().record)
    assert purged["payload"]["anchor_hash"] == result.anchor_hash
    assert purged["actor"] == admin.username

    verified = audit_verify()
    assert verified.ok, verified.summary()
    assert verified.first_seq == 7

    # The export starts after the purge; its first prev_hash is the anchor.
    first = json.loads(next(audit_export_lines()))
    assert first["seq"] == 7 and first["prev_hash"] == result.anchor_hash

    # Checkpoints from before and after the purge are still consistent with each other.
    later = checkpoint_create()
    proof = consistency_proof(first=10, second=later.tree_size)
    assert merkle.verify_consistency(
        10,
        later.tree_size,
        bytes.fromhex(proof["first"]["root_hash"]),
        bytes.fromhex(proof["second"]["root_hash"]),
        [bytes.fromhex(h) for h in proof["proof"]],
    )
    call_command("verify_audit")


def test_only_an_admin_may_purge(make_user):
    with pytest.raises(PermissionDenied):
        audit_purge(actor=make_user(Role.COMPLIANCE_OFFICER))


def test_purge_command_needs_an_admin(make_user):
    from django.core.management.base import CommandError

    officer = make_user(Role.COMPLIANCE_OFFICER)
    with pytest.raises(CommandError):
        call_command("purge_audit", "--user", officer.username)
    admin = make_user(Role.ADMIN)
    call_command("purge_audit", "--user", admin.username)


def test_purge_trusts_the_records_not_their_columns(db, make_user):
    from django.db import connection

    for n in range(3):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
    with connection.cursor() as cursor:  # a database administrator backdates the columns
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
        cursor.execute(
            "UPDATE audit_auditevent SET occurred_at = '2001-01-01 00:00:00', "
            "retention_class = 'access' WHERE seq <= 3"
        )
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    result = audit_purge(actor=make_user(Role.ADMIN))
    assert result.count == 0
    assert AuditEvent.objects.filter(seq__lte=3).count() == 3


def test_a_purged_export_verifies_against_a_later_checkpoint(db, make_user, tmp_path):
    import hashlib

    from apps.audit.canonical import canonical_bytes
    from apps.audit.selectors import checkpoint_as_dict, verify_export

    now = timezone.now()
    _old_and_new(now)
    checkpoint_create()
    audit_purge(actor=make_user(Role.ADMIN), now=now)
    later = checkpoint_as_dict(checkpoint_create())
    lines = list(audit_export_lines())
    result = verify_export(lambda: iter(lines), checkpoint=later)
    assert result.ok, result.summary()
    assert result.first_seq == 7 and result.checkpoint_tree_size == later["tree_size"]

    # Drop the first line and re-chain the rest: the anchor no longer matches.
    forged, prev = [], None
    for line in lines[1:]:
        event = json.loads(line)
        event.pop("hash")
        event["prev_hash"] = prev or event["prev_hash"]
        digest = hashlib.sha256(canonical_bytes(event)).hexdigest()
        forged.append(json.dumps({**event, "hash": digest}))
        prev = digest
    result = verify_export(lambda: iter(forged), checkpoint=later)
    assert not result.ok and "anchors" in result.problem
