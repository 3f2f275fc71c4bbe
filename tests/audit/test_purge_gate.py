"""Only the purge opens the purge gate, and the purge signs what it removed."""

import json
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit import merkle, signing
from apps.audit.events import EventType
from apps.audit.models import AuditEvent, AuditPurgeGate, MerkleLeaf
from apps.audit.services import (
    audit_purge,
    audit_record,
    purge_statement_message,
    purge_statement_valid,
)
from apps.rbac.roles import Role


def _expired_then_recent(now):
    old = now - timedelta(days=4 * 365)
    for n in range(5):
        audit_record(
            event_type=EventType.SYSTEM_ACCESS,
            actor="t",
            payload={"n": n},
            occurred_at=old + timedelta(minutes=n),
        )
    audit_record(event_type=EventType.SYSTEM_ACCESS, actor="t", payload={"n": 99})


def _raw(sql):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


# --- PostgreSQL: a row update cannot open the gate (SQLite keeps a row gate) ---------------

if connection.vendor == "postgresql":

    def test_a_plain_update_cannot_open_the_gate(db):
        AuditPurgeGate.objects.get_or_create(pk=1)
        for attempt in (
            "UPDATE audit_auditpurgegate SET open = true WHERE id = 1",
            "INSERT INTO audit_auditpurgegate (id, open) VALUES (1, true) "
            "ON CONFLICT (id) DO UPDATE SET open = true",
        ):
            with pytest.raises(DatabaseError, match="opens only through"):
                _raw(attempt)
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditPurgeGate.objects.filter(pk=1).update(open=True)
        assert AuditPurgeGate.objects.get(pk=1).open is False


    def test_a_gate_left_open_opens_nothing_for_another_transaction(db):
        audit_record(event_type=EventType.SYSTEM_ACCESS, actor="t", payload={})
        AuditPurgeGate.objects.get_or_create(pk=1)
        # Forced open past the guard trigger (a superuser could), as if committed earlier.
        _raw("ALTER TABLE audit_auditpurgegate DISABLE TRIGGER audit_auditpurgegate_guard")
        _raw("UPDATE audit_auditpurgegate SET open = true WHERE id = 1")
        _raw("ALTER TABLE audit_auditpurgegate ENABLE TRIGGER audit_auditpurgegate_guard")
        with pytest.raises(DatabaseError, match="append-only"):
            _raw("DELETE FROM audit_auditevent")
        assert AuditEvent.objects.exists()


    def test_the_gate_function_opens_it_for_its_own_transaction_only(db):
        audit_record(event_type=EventType.SYSTEM_ACCESS, actor="t", payload={})
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT audit_purge_gate_open()")
            assert AuditPurgeGate.objects.get(pk=1).open is True
            transaction.set_rollback(True)
        assert AuditPurgeGate.objects.get(pk=1).open is False


def test_the_purge_closes_the_gate_and_signs_what_it_removed(db, make_user):
    now = timezone.now()
    _expired_then_recent(now)
    leaves = [bytes(h) for h in MerkleLeaf.objects.order_by("seq").values_list("hash", flat=True)]
    expected_leaves = [
        merkle.leaf_hash(r.encode())
        for r in AuditEvent.objects.filter(seq__lte=5)
        .order_by("seq")
        .values_list("record", flat=True)
    ]
    assert not leaves or leaves[:5] == expected_leaves

    result = audit_purge(actor=make_user(Role.ADMIN), now=now)

    assert (result.purged_from, result.purged_to, result.count) == (1, 5, 5)
    assert AuditPurgeGate.objects.get(pk=1).open is False
    payload = json.loads(result.event.record)["payload"]
    statement = payload["statement"]
    assert (statement["purged_from"], statement["purged_to"], statement["count"]) == (1, 5, 5)
    assert statement["removed_root"] == merkle.root(expected_leaves).hex()
    assert statement["tree_root"] == merkle.root(expected_leaves).hex()  # the prefix is 1..5
    assert statement["anchor_hash"] == result.anchor_hash
    assert payload["key_id"] == signing.key_id()
    assert purge_statement_valid(payload, signing.public_key_bytes())
    assert signing.verify(purge_statement_message(statement), payload["signature"])

    forged = {**payload, "statement": {**statement, "count": 4}}
    assert not purge_statement_valid(forged)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert not purge_statement_valid(payload, other)


def test_after_the_purge_a_delete_is_refused_again(db, make_user):
    now = timezone.now()
    _expired_then_recent(now)
    audit_purge(actor=make_user(Role.ADMIN), now=now)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.exists()
