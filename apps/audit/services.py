"""Writing the audit trail: record, checkpoint, purge.

`audit_record` is called by every service inside its own transaction: the change and its event
commit together or not at all. The event is stored unsequenced, without any chain-wide lock;
after the commit, the one sequencer (apps/audit/sequencer.py) gives it the next sequence number
and the previous hash: no forks, no gaps, whatever the concurrency.
"""

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, transaction
from django.db.models import Max, Min, Model

from apps.audit import canonical, merkle, signing, witness
from apps.audit.events import EVENT_DEFAULTS, EventType, RetentionClass
from apps.audit.models import (
    AuditChainHead,
    AuditEvent,
    AuditPurgeGate,
    Checkpoint,
    MerkleLeaf,
)
from apps.audit.sequencer import audit_placed, audit_sequence, sequence_after_commit
from apps.core import context, sql
from apps.core.errors import ValidationFailed, field_errors
from apps.core.sql import quote
from apps.core.time import rfc3339, utcnow
from apps.core.types import decimal_str
from apps.core.validation import clean_or_raise

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)

GENESIS_HASH = "0" * 64
MAX_PAYLOAD_BYTES = 65_536


class AuditPayloadError(ValidationFailed):
    code = "invalid_audit_payload"


def to_payload(value: Any) -> Any:
    """Plain JSON for a payload: Decimal and times become strings; floats are refused later."""
    kind = type(value)
    if kind in (str, int, bool) or value is None:
        return value
    if kind is dict:
        return {str(k) if isinstance(k, Enum) else k: to_payload(v) for k, v in value.items()}
    if kind in (list, tuple):
        return [to_payload(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_payload(value.value)
    if isinstance(value, UUID):
        return str(value)
    return value  # floats and anything else: canonical.check names and refuses them


def _actor_fields(actor) -> dict[str, str | None]:
    ctx = context.current()
    if actor is not None and getattr(actor, "is_authenticated", False):
        return {
            "actor_type": "token" if ctx.token_name else "user",
            "actor": actor.get_username(),
            "actor_token": ctx.token_name,
        }
    if isinstance(actor, str) and actor:
        return {"actor_type": "system", "actor": actor, "actor_token": None}
    return {"actor_type": "system", "actor": ctx.system or "platform", "actor_token": None}


def _lock_head() -> AuditChainHead:
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    return head


_EVENTS = quote(AuditEvent._meta.db_table)
_PENDING_COLUMNS = (
    "occurred_at",
    "event_type",
    "actor_type",
    "actor",
    "object_type",
    "object_id",
    "regulatory",
    "retention_class",
    "record",
    "hash",
    "queued_at",
)
# Room for `"seq":…,"prev_hash":"…"` that the sequencer adds to a record.
_PLACE_BYTES = 128


def _insert_unsequenced_sql() -> str:
    """INSERT of an unsequenced event, its placeholder key taken without any chain-wide lock:
    minus the next value of a database sequence on PostgreSQL; on SQLite, whose one writer
    already holds the whole database, one below the lowest placeholder pending."""
    if connection.vendor == "postgresql":
        placeholder = "-nextval('audit_event_arrival')"
    else:
        placeholder = f"(SELECT MIN(COALESCE(MIN(seq), 0), 0) - 1 FROM {_EVENTS})"  # noqa: S608
    columns = ", ".join(("seq", *_PENDING_COLUMNS))
    marks = ", ".join(["%s"] * len(_PENDING_COLUMNS))
    return f"INSERT INTO {_EVENTS} ({columns}) VALUES ({placeholder}, {marks}) RETURNING seq"  # noqa: S608


def _nul_replaced(value):
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def audit_record(
    *,
    event_type: EventType | str,
    actor=None,
    object_type: str = "",
    object_id: str | int = "",
    payload: dict | None = None,
    regulatory: bool | None = None,
    retention_class: RetentionClass | str | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Store one event, unsequenced, in the caller's transaction; returns its row.

    The row has a negative placeholder `seq` and no hash until the sequencer places it in the
    chain, shortly after the caller's transaction commits (apps/audit/sequencer.py).

    `actor` is the acting user, or a system name; with neither, the current task or command.
    `occurred_at` is for back-filling and tests; services let it default to now.
    """
    try:
        event_type = EventType(event_type)
    except ValueError:
        raise AuditPayloadError(
            details=field_errors(event_type=f"Unknown event type {event_type!r}.")
        ) from None
    default_class, default_regulatory = EVENT_DEFAULTS[event_type]
    retention = RetentionClass(retention_class or default_class)
    body = to_payload(payload or {})
    if type(body) is not dict:
        raise AuditPayloadError(details=field_errors(payload="Must be an object."))
    try:
        canonical.check(body, "payload")
    except canonical.CanonicalError as exc:
        raise AuditPayloadError(str(exc), details=field_errors(payload=str(exc))) from None

    ctx = context.current()
    when = occurred_at or utcnow()
    event = {
        "occurred_at": rfc3339(when),
        "event_type": event_type.value,
        **_actor_fields(actor),
        # What the client sent about itself is kept as the trail can hold it (no NUL).
        "ip": _nul_replaced(ctx.ip),
        "user_agent": _nul_replaced(ctx.user_agent),
        "request_id": _nul_replaced(ctx.request_id),
        "object_type": object_type,
        "object_id": str(object_id),
        "payload": body,
        "regulatory": default_regulatory if regulatory is None else bool(regulatory),
        "retention_class": retention.value,
    }
    canonical.check({k: v for k, v in event.items() if k != "payload"})
    record = canonical.canonical_bytes_unchecked(event)
    if b"\\u0000" in record and _has_nul(event):  # the encoding escapes NUL as \u0000
        # PostgreSQL's jsonb (which the sequencing trigger reads the record as) cannot hold
        # U+0000: such an event could never be placed and would hold back every one after it.
        raise AuditPayloadError(details=field_errors(payload="Must not contain NUL characters."))
    if len(record) + _PLACE_BYTES > MAX_PAYLOAD_BYTES:
        raise AuditPayloadError(details=field_errors(payload="Too large for one event."))
    row = AuditEvent(
        occurred_at=when,
        event_type=event_type.value,
        actor_type=event["actor_type"],
        actor=event["actor"][:150],
        object_type=object_type[:64],
        object_id=event["object_id"][:64],
        regulatory=event["regulatory"],
        retention_class=retention.value,
        record=record.decode(),
        hash="",
        queued_at=utcnow(),
    )
    params = [getattr(row, name) for name in _PENDING_COLUMNS]
    params[0] = sql.param_datetime(params[0])
    params[-1] = sql.param_datetime(params[-1])
    # No savepoint: if the event cannot be written, the caller's whole transaction must fail.
    with transaction.atomic(savepoint=False):
        # Prepared once per connection on PostgreSQL, the writes queued behind (the order's)
        # going with it as part of the one statement (apps.core.sql).
        row.seq = sql.batch([sql.carrying((_insert_unsequenced_sql(), params, ()))])[0][0][0]
        sequence_after_commit()
    row._state.adding = False
    row._state.db = connection.alias
    return row


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# --- changing a row, audited -----------------------------------------------------------------


READ_PARAM_CHARS = 200  # a query value recorded with a read is cut to this length


def read_params(params) -> dict[str, str | list[str]]:
    """A request's query parameters as a payload value: repeated names become lists, long
    values are cut, so a read is recorded with what it asked for but cannot bloat the trail."""
    out: dict[str, str | list[str]] = {}
    for name in sorted(params)[:20]:
        values = [_printable(v)[:READ_PARAM_CHARS] for v in params.getlist(name)][:20]
        out[_printable(name)[:64]] = values[0] if len(values) == 1 else values
    return out


def _printable(value) -> str:
    """A query value as the trail can keep it: a NUL (which no event may hold) as U+FFFD."""
    return str(value).replace("\x00", "\ufffd")


def audit_read_record(*, actor=None, action: str, via: str, **details) -> AuditEvent:
    """Record one read of the trail (list, page, proof, verify, export) as DATA_ACCESS on
    `audit.auditevent`, in its own transaction (nested in the caller's when there is one).

    One event per request: what was read (`action`, the filters, the count and the range of
    sequence numbers returned), through what (`via`: api, admin, command) and by whom."""
    with transaction.atomic():
        return audit_record(
            event_type=EventType.DATA_ACCESS,
            actor=actor,
            object_type="audit.auditevent",
            payload={"action": action, "via": via, **details},
        )


def seq_range(keys: Collection[int]) -> dict[str, int | None]:
    return {
        "count": len(keys),
        "first_seq": min(keys, default=None),
        "last_seq": max(keys, default=None),
    }


def field_values(instance, names: Iterable[str]) -> dict[str, Any]:
    """The values of fields as the trail keeps them: a related row by its primary key."""
    out = {}
    for name in names:
        try:
            field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        related = field is not None and (field.many_to_one or field.one_to_one)
        out[name] = getattr(instance, field.attname if related else name)
    return out


@transaction.atomic
def update_audited(
    instance: M,
    *,
    changes: Mapping[str, Any],
    actor,
    event_type: EventType | str = EventType.CONFIG_CHANGED,
    payload: Mapping[str, Any] | None = None,
    allowed: Collection[str] | None = None,
    snapshot: Callable[[M], dict[str, Any]] | None = None,
) -> M:
    """Change fields of one row and record the change: `changes` (field -> value) are set on
    `instance`, which is then full_clean()ed and saved with `update_fields`, and one event
    records `payload` plus `before` and `after`, all in the caller's transaction.

    `instance` is the row as the caller locked it (select_for_update): whatever the caller
    checked before calling holds for what is changed. `allowed` names the fields a caller may
    change (any other is a 400). `before` and `after` hold the fields that changed; with
    `snapshot`, they are `snapshot(instance)` before and after, for events that have always kept
    the whole row. When no value changes, nothing is saved and nothing recorded.
    """
    if allowed is not None:
        unknown = set(changes) - set(allowed)
        if unknown:
            raise ValidationFailed(
                details={name: ["Cannot be changed here."] for name in sorted(unknown)}
            )
    before = field_values(instance, changes)
    whole_before = snapshot(instance) if snapshot is not None else None
    for name, value in changes.items():
        setattr(instance, name, value)
    clean_or_raise(instance)
    after = field_values(instance, changes)
    changed = [name for name in changes if before[name] != after[name]]
    if not changed:
        return instance
    stamped = any(f.name == "updated_at" for f in instance._meta.concrete_fields)
    instance.save(update_fields=[*changed, "updated_at"] if stamped else changed)
    if snapshot is not None:
        trail = {"before": whole_before, "after": snapshot(instance)}
    else:
        trail = {
            "before": {name: before[name] for name in changed},
            "after": {name: after[name] for name in changed},
        }
    audit_record(
        event_type=event_type,
        actor=actor,
        object_type=instance._meta.label_lower,
        object_id=instance.pk,
        payload={**(payload or {}), **trail},
    )
    return instance


def export_line(record: str, digest: str) -> str:
    """One JSON Lines row: the hashed object plus its "hash" (record is a canonical object)."""
    return f'{record[:-1]},"hash":"{digest}"}}'


# --- checkpoints --------------------------------------------------------------------------------


def checkpoint_message(
    *, tree_size: int, root_hash: str, created_at: datetime, rotation: dict | None = None
) -> bytes:
    """What the signature covers: four lines, each ending in a newline; a checkpoint that
    announces a new key adds a fifth, `rotate <outgoing key> <incoming key>` (raw keys, hex)."""
    message = f"{settings.AUDIT_LOG_ID}\n{tree_size}\n{root_hash}\n{rfc3339(created_at)}\n"
    if rotation:
        message += f"rotate {rotation['from']} {rotation['to']}\n"
    return message.encode()


def _lock_maintenance() -> AuditPurgeGate:
    gate, _ = AuditPurgeGate.objects.select_for_update().get_or_create(pk=1)
    return gate


def merkle_leaves_extend(*, up_to: int | None = None, batch: int = 5000) -> int:
    """Store the leaf hash of every event not yet leafed; returns the new leaf count."""
    last = MerkleLeaf.objects.aggregate(m=Max("seq"))["m"] or 0
    # (an unsequenced event's placeholder is negative: below every leaf)
    head = up_to if up_to is not None else (AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0)
    while last < head:
        rows = list(
            AuditEvent.objects.filter(seq__gt=last, seq__lte=min(head, last + batch))
            .order_by("seq")
            .values_list("seq", "record")
        )
        if not rows:
            break
        leaves = []
        for seq, record in rows:
            if seq != last + 1:
                raise ValidationFailed(
                    f"The audit chain has a gap before sequence {seq}.", code="audit_chain_broken"
                )
            leaves.append(MerkleLeaf(seq=seq, hash=merkle.leaf_hash(record.encode())))
            last = seq
        MerkleLeaf.objects.bulk_create(leaves, batch_size=batch)
    return last


def _frontier_at(size: int) -> merkle.Frontier:
    """The frontier of the first `size` leaves, from the nearest checkpoint at or below it."""
    base = Checkpoint.objects.filter(tree_size__lte=size).order_by("-tree_size").first()
    frontier = merkle.Frontier.from_list(base.frontier) if base else merkle.Frontier()
    frontier.extend(_leaves_between(base.tree_size if base else 0, size))
    return frontier


def _leaves_between(start: int, end: int) -> list[bytes]:
    """The leaf hashes of events start + 1 .. end."""
    rows = MerkleLeaf.objects.filter(seq__gt=start, seq__lte=end).order_by("seq")
    leaves = [bytes(h) for h in rows.values_list("hash", flat=True).iterator(chunk_size=5000)]
    if len(leaves) != end - start:
        raise ValidationFailed(f"Merkle leaves missing below {end}.", code="audit_chain_broken")
    return leaves


def checkpoint_create(*, rotate_to=None) -> Checkpoint | None:
    """Sign the Merkle root of every event so far; None when nothing was appended since.

    The events committed so far are sequenced first, so the checkpoint covers them.

    `rotate_to` (an Ed25519 private key) makes this the checkpoint that hands signing over to
    that key: its message names the outgoing and incoming public keys, the outgoing key signs it
    as usual and the incoming key signs the same message too (see `audit_key_rotate`).
    """
    audit_sequence()
    return _checkpoint_create(rotate_to=rotate_to)


@transaction.atomic
def _checkpoint_create(*, rotate_to=None) -> Checkpoint | None:
    _lock_maintenance()
    size = merkle_leaves_extend()
    latest = Checkpoint.objects.order_by("-tree_size").first()
    if size == 0 or (latest is not None and latest.tree_size >= size):
        return None
    current = signing.public_key_bytes().hex()
    if Checkpoint.objects.filter(rotation__isnull=False, rotation__from=current).exists():
        # This key handed over: nothing it signs now would verify. Sign nothing until the new
        # key is configured (the unsigned tail grows and the monitor says so).
        logger.error("audit checkpoint not signed: the configured key was rotated out")
        return None
    previous = merkle.Frontier.from_list(latest.frontier) if latest else merkle.Frontier()
    added = _leaves_between(previous.size, size)
    # The proof that this tree extends the previous checkpoint's, for the witness line.
    proof = merkle.consistency_proof_extending(previous, added)
    frontier = merkle.Frontier.from_hashes(previous.hashes(), previous.size)
    frontier.extend(added)
    root = frontier.root().hex()
    created_at = utcnow()
    rotation = None
    if rotate_to is not None:
        rotation = {"from": signing.public_key_bytes().hex(), "to": signing.raw_public(rotate_to)}
    message = checkpoint_message(
        tree_size=size, root_hash=root, created_at=created_at, rotation=rotation
    )
    if rotation is not None:
        rotation["to_signature"] = signing.sign(message, rotate_to)
    checkpoint = Checkpoint(
        tree_size=size,
        root_hash=root,
        created_at=created_at,
        key_id=signing.key_id(),
        signature=signing.sign(message),
        frontier=frontier.to_list(),
        rotation=rotation,
    )
    checkpoint.full_clean()
    checkpoint.save()
    # Outside the database once it is stored for good: the witness never holds a checkpoint
    # that was rolled back, and a witness that cannot be written never undoes one.
    transaction.on_commit(lambda: witness.witness_everywhere(checkpoint, latest, proof))
    return checkpoint


def checkpoint_signature_valid(checkpoint: Checkpoint, public_key: bytes | None = None) -> bool:
    """Signed by `public_key` (the pinned key), or by the platform's own key without one."""
    message = checkpoint_message(
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        created_at=checkpoint.created_at,
        rotation=checkpoint.rotation,
    )
    if public_key is not None and checkpoint.key_id != signing.key_id_of(public_key):
        return False
    return signing.verify(message, checkpoint.signature, public_key)


@transaction.atomic
def audit_key_rotate(*, actor, new_key) -> Checkpoint:
    """Hand checkpoint signing over to `new_key` (an Ed25519 private key): record the rotation
    and sign a checkpoint over it that names both public keys, signed by the current key and by
    the new one. From then on the current key signs nothing; configure the new one
    (AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE) and restart. Raises ValidationFailed when the
    new key is the current one."""
    new_public = signing.raw_public(new_key)
    old_public = signing.public_key_bytes().hex()
    if new_public == old_public:
        raise ValidationFailed(
            "The new key is the key in use already.",
            details=field_errors(new_key="Is the key in use already."),
        )
    if Checkpoint.objects.filter(rotation__isnull=False, rotation__from=new_public).exists():
        raise ValidationFailed(
            "The new key handed over once already; a retired key is never used again.",
            details=field_errors(new_key="Was retired by an earlier rotation."),
        )
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type="audit.signingkey",
        object_id=signing.key_id_of(bytes.fromhex(new_public)),
        payload={
            "action": "rotate",
            "before": {"key_id": signing.key_id(), "public_key": old_public},
            "after": {
                "key_id": signing.key_id_of(bytes.fromhex(new_public)),
                "public_key": new_public,
            },
        },
    )
    checkpoint = checkpoint_create(rotate_to=new_key)
    if checkpoint is None:  # the current key was rotated out already
        raise ValidationFailed(
            "The configured key was rotated out already; configure its successor.",
            code="audit_key_retired",
        )
    return checkpoint


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    purged_from: int
    purged_to: int
    count: int
    anchor_hash: str
    event: AuditEvent | None


def _first_unexpired_seq(now: datetime) -> int | None:
    firsts = []
    for retention_class, days in settings.AUDIT_RETENTION_DAYS.items():
        cutoff = now - timedelta(days=days)
        first = AuditEvent.objects.filter(
            seq__gt=0, retention_class=retention_class, occurred_at__gte=cutoff
        ).aggregate(m=Min("seq"))["m"]
        if first is not None:
            firsts.append(first)
    known = list(settings.AUDIT_RETENTION_DAYS)
    cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS["default"])
    other = (
        AuditEvent.objects.exclude(retention_class__in=known)
        .filter(seq__gt=0, occurred_at__gte=cutoff)
        .aggregate(m=Min("seq"))["m"]
    )
    if other is not None:
        firsts.append(other)
    return min(firsts) if firsts else None


def _expired_prefix_end(start: int, end: int, now: datetime) -> int:
    """Confirm the candidate prefix from the hashed records themselves, not their columns: the
    purge stops before the first event whose record is altered or still inside retention."""
    import json

    days = settings.AUDIT_RETENTION_DAYS
    rows = AuditEvent.objects.filter(seq__gte=start, seq__lte=end).order_by("seq")
    for seq, record, digest in rows.values_list("seq", "record", "hash").iterator(2000):
        if hashlib.sha256(record.encode()).hexdigest() != digest:
            return seq - 1
        event = json.loads(record)
        keep = days.get(event.get("retention_class"), days["default"])
        occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        if occurred >= now - timedelta(days=keep):
            return seq - 1
    return end


def _purge_gate_open(gate: AuditPurgeGate) -> None:
    """Open the gate for this transaction only. On PostgreSQL a row update is refused: the gate
    opens through audit_purge_gate_open() (migration 0007), which marks the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_purge_gate_open()")
    else:  # SQLite: its triggers only read the row
        AuditPurgeGate.objects.filter(pk=gate.pk).update(open=True)
    gate.open = True


def _purge_gate_close(gate: AuditPurgeGate) -> None:
    AuditPurgeGate.objects.filter(pk=gate.pk).update(open=False)
    gate.open = False


def _removed_range_root(start: int, end: int) -> str:
    """RFC 6962 root of the leaves of events start..end, as a tree of their own."""
    leaves = MerkleLeaf.objects.filter(seq__gte=start, seq__lte=end).order_by("seq")
    hashes = [bytes(h) for h in leaves.values_list("hash", flat=True).iterator(chunk_size=5000)]
    if len(hashes) != end - start + 1:
        raise ValidationFailed(
            f"Merkle leaves missing in {start}..{end}.", code="audit_chain_broken"
        )
    return merkle.root(hashes).hex()


def purge_statement(**fields) -> dict:
    """What a purge signs: the range, the count, the Merkle root of the removed leaves
    (`removed_root`) and of the first `purged_to` leaves (`tree_root`), and the anchor."""
    return {"log_id": settings.AUDIT_LOG_ID, **fields}


def purge_statement_message(statement: dict) -> bytes:
    return b"audit-purge\n" + canonical.canonical_bytes(statement)


def purge_statement_valid(payload: dict, public_key: bytes | None = None) -> bool:
    """Check the signature on a DATA_PURGED payload's statement."""
    statement = payload.get("statement")
    signature = payload.get("signature")
    if not isinstance(statement, dict) or not isinstance(signature, str):
        return False
    return signing.verify(purge_statement_message(statement), signature, public_key)


@transaction.atomic
def audit_purge(*, actor, now: datetime | None = None) -> PurgeResult:
    """Delete the oldest events past their retention, keeping the chain verifiable.

    Only a prefix of the chain is purged: the events before the first one still inside its
    retention period (an older event kept longer holds back the newer ones behind it). The
    DATA_PURGED event records the range, the anchor (the hash the chain continues from) and the
    Merkle frontier at the anchor, so that verification and old checkpoints still work.
    """
    from apps.rbac.access import require_role
    from apps.rbac.roles import Role

    if not isinstance(actor, str):  # a scheduled purge acts as the system
        require_role(actor, Role.ADMIN, "purge the audit trail")
    now = now or utcnow()
    gate = _lock_maintenance()
    # The sequencer's lock, held to commit: the head stays where it is while the prefix goes,
    # and the purge's own event is sequenced in this transaction (below), so that the chain
    # never starts past a purge whose record is not in it yet.
    audit_sequence(wait=True)
    head = _lock_head()
    start = (AuditEvent.objects.filter(seq__gt=0).aggregate(m=Min("seq"))["m"]) or head.seq + 1
    first_kept = _first_unexpired_seq(now)
    end = (first_kept - 1) if first_kept is not None else head.seq
    end = _expired_prefix_end(start, end, now)
    if end < start:
        return PurgeResult(start, start - 1, 0, "", None)
    merkle_leaves_extend(up_to=head.seq)
    anchor = AuditEvent.objects.get(seq=end)
    frontier = _frontier_at(end)
    removed = _removed_range_root(start, end)
    _purge_gate_open(gate)
    count, _ = AuditEvent.objects.filter(seq__gte=start, seq__lte=end).delete()
    _purge_gate_close(gate)
    statement = purge_statement(
        purged_from=start,
        purged_to=end,
        count=count,
        removed_root=removed,
        tree_root=frontier.root().hex(),
        anchor_hash=anchor.hash,
        as_of=rfc3339(now),
    )
    event = audit_record(
        event_type=EventType.DATA_PURGED,
        actor=actor,
        object_type="audit.auditevent",
        payload={
            "purged_from": start,
            "purged_to": end,
            "count": count,
            "anchor_hash": anchor.hash,
            "anchor_frontier": frontier.to_list(),
            "retention_days": dict(settings.AUDIT_RETENTION_DAYS),
            "as_of": now,
            "statement": statement,
            "key_id": signing.key_id(),
            "signature": signing.sign(purge_statement_message(statement)),
        },
    )
    event = audit_placed(event)
    logger.info("audit purge", extra={"purged_from": start, "purged_to": end, "count": count})
    return PurgeResult(start, end, count, anchor.hash, event)
