"""The audit trail: one append-only, hash-chained table, and what proves it whole.

Each event row keeps the exact canonical JSON its hash covers (`record`), so the hash can be
re-checked byte for byte; the other columns are copies of record fields for filtering.

An event is written in two steps (see apps/audit/sequencer.py). The writer's transaction stores
it unsequenced: `seq` holds a negative placeholder (minus its arrival number), `record` the
canonical JSON without `seq` and `prev_hash`, and `hash` is empty. The sequencer then gives it,
once, its place in the chain: the next `seq` (from 1 up), the `record` with `seq` and
`prev_hash`, and its `hash`. Readers of the chain read sequenced events only (`seq > 0`).
"""

from django.db import models
from django.db.models import Q

from apps.audit.events import EventType, RetentionClass


class AuditEvent(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    event_type = models.CharField(max_length=32, choices=[(t, t) for t in EventType])
    actor_type = models.CharField(max_length=8)  # user, token, system
    actor = models.CharField(max_length=150, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    regulatory = models.BooleanField()
    retention_class = models.CharField(max_length=16, choices=[(c, c) for c in RetentionClass])
    record = models.TextField(help_text="The canonical JSON (RFC 8785) that the hash covers.")
    hash = models.CharField(max_length=64, blank=True)
    queued_at = models.DateTimeField(
        null=True, editable=False, help_text="When the writer's transaction stored the event."
    )

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["event_type", "seq"]),
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["seq"], condition=Q(seq__lt=0), name="audit_event_unsequenced"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} by {self.actor}"


class AuditChainHead(models.Model):
    """One row: the last sequence number and hash. Only the sequencer (one at a time) moves it,
    so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)


class AuditPurgeGate(models.Model):
    """One row. Database triggers refuse DELETE on the events unless the purge has opened it
    inside its own transaction (other transactions never see it open)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    open = models.BooleanField(default=False)


class MerkleLeaf(models.Model):
    """RFC 6962 leaf hash of each event, kept after a purge so old checkpoints stay provable."""

    seq = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)


class Checkpoint(models.Model):
    """A signed statement: the Merkle root of the first `tree_size` events at `created_at`."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128, help_text="Ed25519, base64.")
    frontier = models.JSONField(default=list, help_text="Complete subtree hashes, for appending.")
    rotation = models.JSONField(
        null=True,
        blank=True,
        help_text="A key rotation this checkpoint announces: the outgoing and incoming public "
        "keys (hex) and the incoming key's signature of the same message.",
    )

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root_hash[:12]}…"
