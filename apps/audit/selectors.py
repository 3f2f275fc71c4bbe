"""Reading the audit trail: list, verify, export, proofs. Streaming, in bounded memory."""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import orjson
from django.db.models import QuerySet

from apps.audit import merkle
from apps.audit.canonical import DuplicateName, parse_strict
from apps.audit.events import EventType
from apps.audit.models import AuditEvent, Checkpoint, MerkleLeaf
from apps.audit.services import GENESIS_HASH, export_line
from apps.core.errors import NotFound, PlatformError, ValidationFailed, field_errors

CHUNK = 5000


def event_list(*, user) -> QuerySet[AuditEvent]:
    """The sequenced trail (events still waiting for the sequencer are not in the chain yet);
    `user` is for the entitlement filter to come."""
    return AuditEvent.objects.filter(seq__gt=0)


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size").first()


def audit_tail(*, now: datetime) -> dict:
    """The last witnessed checkpoint (the last stored one when no witness is configured), how
    old it is, and the events past it: how many, and how long the oldest has waited."""
    from django.conf import settings
    from django.db.models import Max

    from apps.audit.witness import witness_latest

    witnessed = bool(settings.AUDIT_WITNESS_DIR)
    size, created = 0, None
    if witnessed:
        entry = witness_latest(settings.AUDIT_WITNESS_DIR)
        if entry is not None:
            size = entry["tree_size"]
            created = datetime.fromisoformat(str(entry["created_at"]).replace("Z", "+00:00"))
    else:
        latest = checkpoint_latest()
        if latest is not None:
            size, created = latest.tree_size, latest.created_at
    head = AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0
    oldest = (
        AuditEvent.objects.filter(seq__gt=size)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return {
        "witnessed": witnessed,
        "tree_size": size,
        "created_at": created,
        "age_seconds": int((now - created).total_seconds()) if created else None,
        "unsigned_events": max(0, head - size),
        "oldest_unsigned_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0,
    }


@dataclass
class VerifyResult:
    ok: bool
    events_checked: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    checkpoint_tree_size: int | None
    first_bad_seq: int | None = None
    problem: str = ""
    # None: no witness was read. Otherwise how many witnessed checkpoints were checked.
    witness_checked: int | None = None
    key_pinned: bool = False
    # Past the last signed checkpoint (the last witnessed one when a witness was read): how many
    # events, and how long the oldest of them has waited for a signature, in whole seconds.
    unsigned_events: int = 0
    unsigned_seconds: int = 0
    # The tree size the witness starts from (0 unless its first line names an earlier one).
    witness_from: int = 0
    # Stored but not sequenced yet (not in the chain checked above), and how long the oldest of
    # them has waited, in seconds.
    pending_events: int = 0
    pending_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if not self.ok:
            return f"BROKEN at sequence {self.first_bad_seq}: {self.problem}"
        cp = (
            f"; matches signed checkpoint at {self.checkpoint_tree_size}"
            if self.checkpoint_tree_size
            else "; no checkpoint yet"
        )
        if self.witness_checked is not None:
            cp += (
                f"; agrees with {self.witness_checked} witnessed checkpoints, chained by "
                "consistency proofs"
            )
            if self.witness_from:
                cp += f" from tree size {self.witness_from} on"
        if not self.key_pinned:
            cp += "; signatures checked with the platform's own key (no --public-key)"
        if self.unsigned_events:
            past = "witnessed" if self.witness_checked is not None else "signed"
            cp += (
                f"; {self.unsigned_events} events past the last {past} checkpoint, the oldest "
                f"waiting {self.unsigned_seconds} s"
            )
        if self.pending_events:
            cp += (
                f"; {self.pending_events} events waiting to be sequenced, the oldest for "
                f"{self.pending_seconds} s"
            )
        else:
            cp += "; no event waiting to be sequenced"
        if not self.events_checked:
            head = "the audit trail is empty" + cp
        else:
            head = (
                f"{self.events_checked} events, sequence {self.first_seq}..{self.last_seq}, "
                f"last hash {self.last_hash}{cp}"
            )
        if self.witness_checked is None and self.checkpoint_tree_size and self.key_pinned:
            return (
                f"NOT WITNESSED: {head}. Only the checkpoint, signed by the pinned key, vouches "
                "for the events it covers; no witness was checked."
            )
        if self.witness_checked is None:
            return (
                f"NOT WITNESSED: {head}. The database agrees with itself, but nothing outside "
                "the database vouches for this trail (no witness: set AUDIT_WITNESS_DIR or pass "
                "--witness); whoever controls the database could have rewritten it unseen."
            )
        return f"OK: {head}"


def _purge_anchor() -> tuple[int, str, merkle.Frontier]:
    """Where the stored chain starts: after the latest purge, or at the genesis."""
    purge = (
        AuditEvent.objects.filter(event_type=EventType.DATA_PURGED, seq__gt=0)
        .order_by("-seq")
        .first()
    )
    if purge is None:
        return 1, GENESIS_HASH, merkle.Frontier()
    payload = json.loads(purge.record)["payload"]
    return (
        payload["purged_to"] + 1,
        payload["anchor_hash"],
        merkle.Frontier.from_list(payload["anchor_frontier"]),
    )


# The columns that copy a field of the hashed record (for filtering and retention); verify
# checks that each still says what the record says.
COLUMN_FIELDS = (
    "event_type",
    "actor_type",
    "actor",
    "object_type",
    "object_id",
    "regulatory",
    "retention_class",
    "occurred_at",
)
_COLUMN_WIDTH = {"actor": 150, "object_type": 64, "object_id": 64}


def _columns_disagree(event: dict, row: tuple) -> str | None:
    """The first column whose value differs from the record's field, or None."""
    for name, value in zip(COLUMN_FIELDS, row, strict=True):
        expected = event.get(name)
        if name == "occurred_at":
            if isinstance(expected, str) and len(expected) == 27:
                expected = f"{expected[:10]} {expected[11:26]}"  # "…T…Z" as stored
            if "." not in value:
                value += ".000000"
        elif name == "regulatory":
            value = bool(value)
        elif name in _COLUMN_WIDTH and isinstance(expected, str):
            expected = expected[: _COLUMN_WIDTH[name]]
        if value != expected:
            return name
    return None


def _stream_events() -> Iterator[tuple]:
    """(seq, record, hash, *COLUMN_FIELDS) in sequence order, read ahead by a second thread.

    The reader thread only calls fetchmany on this connection's server-side cursor while the
    caller hashes the previous chunk: the database driver waits for the network without the
    GIL, so reading and hashing overlap. Memory stays at two chunks.
    """
    import queue
    import threading

    from django.db import connection

    done = object()
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    table = AuditEvent._meta.db_table  # a constant of the model, not input
    # The time as text in the database ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC): parsing a
    # datetime object per row would cost more than the rest of the check.
    if connection.vendor == "postgresql":
        when = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    else:
        when = "CAST(occurred_at AS TEXT)"
    columns = ", ".join(("seq", "record", "hash", *COLUMN_FIELDS[:-1], when))
    sql = f"SELECT {columns} FROM {table} WHERE seq > 0 ORDER BY seq"  # noqa: S608
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        if connection.vendor == "sqlite":
            # In-process: no network wait to overlap, and a second thread only adds switches.
            while rows := cursor.fetchmany(CHUNK):
                yield from rows
            return

        def read() -> None:
            try:
                while not stop.is_set():
                    rows = cursor.fetchmany(CHUNK)
                    chunks.put(rows if rows else done)
                    if not rows:
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                chunks.put(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while True:
                rows = chunks.get()
                if rows is done:
                    return
                if isinstance(rows, BaseException):
                    raise rows
                yield from rows
        finally:
            stop.set()
            while reader.is_alive():  # unblock a reader waiting on a full queue
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    reader.join(0.01)


class WitnessUnavailable(PlatformError):
    status_code = 503
    code = "witness_unavailable"
    default_message = "The audit witness cannot be read; the trail was not verified."


def audit_verify_for_staff() -> "VerifyResult":
    """`audit_verify` for the API and the admin: a witness directory that is configured but
    cannot be read is a 503 with the error body, not a crash (the command says it its own way)."""
    from apps.audit.witness import WitnessError

    try:
        return audit_verify()
    except (OSError, WitnessError) as exc:
        raise WitnessUnavailable(details={"witness": str(exc)}) from None


def audit_verify(
    *,
    witness_dir: str | None = None,
    public_key: bytes | None = None,
    public_keys: Sequence[bytes] | None = None,
    max_unsigned_seconds: int | None = None,
    now: datetime | None = None,
) -> VerifyResult:
    """Check the whole stored chain, then the signed checkpoints against it.

    Each event: its sequence number follows the previous one, its record names the previous
    hash, its hash is SHA-256 of its record, and its columns agree with the record; a
    DATA_PURGED event's statement must be signed by a trusted key. Then the Merkle root of the
    first tree_size events must equal the signed checkpoint root (this is what catches a
    truncated tail or a rewritten history).

    With a witness (`witness_dir`, by default AUDIT_WITNESS_DIR), the witnessed checkpoints must
    form one chain (each line names the one before it and proves, by its consistency proof, that
    it extends it), every one must be signed, covered by the stored events with the same root,
    and still stored: this is what catches a rewrite whose author also rewrote or deleted the
    stored checkpoints. With `public_key`/`public_keys` (pinned by the operator), every
    signature is checked with those keys only (and the keys a rotation hands over to or from
    them). With `max_unsigned_seconds`, events waiting longer than that for a signed (with a
    witness: witnessed) checkpoint break the trail at the first of them.
    """
    from django.conf import settings
    from django.db import connection, transaction

    from apps.audit.witness import witness_read

    pinned = list(public_keys or []) + ([public_key] if public_key is not None else [])
    witness_dir = witness_dir or settings.AUDIT_WITNESS_DIR or None
    # Read before the database snapshot: a checkpoint reaches the witness only after it has
    # committed, so every line read here is in the snapshot taken next.
    witnessed = witness_read(witness_dir) if witness_dir else None
    args = (witnessed, pinned or None, max_unsigned_seconds, now)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _verify(*args)  # inside a caller's transaction: its snapshot rules
    # One snapshot for the checkpoint, the purge anchor and the events, so that a purge or a
    # checkpoint committing meanwhile cannot make a good trail look broken.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _verify(*args)


def witness_chain_problem(witness: list[dict]) -> tuple[int, str] | None:
    """The first break in a chain of witness lines (sorted by tree size), as (the first sequence
    number it leaves unaccounted for, why), or None: each line must name the line before it
    (tree size and root) and carry a consistency proof from that tree to its own."""
    for index, entry in enumerate(witness):
        size, prev_size = entry["tree_size"], entry["prev_tree_size"]
        if index:
            before = witness[index - 1]
            if before["tree_size"] == size:
                return (
                    prev_size + 1,
                    f"the witness holds two checkpoints at tree size {size} (a fork)",
                )
            if (prev_size, entry["prev_root_hash"]) != (before["tree_size"], before["root_hash"]):
                return (
                    before["tree_size"] + 1,
                    f"a gap in the witnessed checkpoints: the line at {size} names the "
                    f"checkpoint at {prev_size} before it, but the witness's previous line is "
                    f"at {before['tree_size']} (a witness line is missing or was replaced)",
                )
        try:
            old_root = bytes.fromhex(entry["prev_root_hash"]) if prev_size else merkle.EMPTY_ROOT
            proof = [bytes.fromhex(h) for h in entry["consistency_proof"]]
            new_root = bytes.fromhex(entry["root_hash"])
        except (TypeError, ValueError):
            old_root, proof, new_root = b"", [], b""
        if not merkle.verify_consistency(prev_size, size, old_root, new_root, proof):
            return (
                prev_size + 1,
                f"the consistency proof of the witnessed checkpoint at {size} does not show "
                f"that it extends the one at {prev_size}",
            )
    return None


def _purge_statement_problem(payload: dict, keyring) -> str | None:
    from apps.audit.services import purge_statement_message

    statement, signature = payload.get("statement"), payload.get("signature")
    if not isinstance(statement, dict) or not isinstance(signature, str):
        return "the purge carries no signed statement"
    for name in ("purged_from", "purged_to", "count", "anchor_hash"):
        if statement.get(name) != payload.get(name):
            return f"the purge statement's {name} differs from the event's"
    from apps.audit import signing

    key = keyring.keys.get(payload.get("key_id"))
    if key is None:
        return f"the purge statement is signed by key id {payload.get('key_id')}, not a pinned key"
    if not signing.verify(purge_statement_message(statement), signature, key):
        return "the purge statement's signature does not verify"
    return None


def _verify(
    witnessed: list[dict] | None = None,
    public_keys: list[bytes] | None = None,
    max_unsigned_seconds: int | None = None,
    now: datetime | None = None,
) -> VerifyResult:
    from django.conf import settings

    from apps.audit import signing
    from apps.audit.keyring import Keyring, as_entry
    from apps.core.time import utcnow

    checkpoint = checkpoint_latest()
    expected_seq, prev_hash, frontier = _purge_anchor()
    result = VerifyResult(True, 0, None, None, None, None, key_pinned=public_keys is not None)

    def broken(seq: int, problem: str) -> VerifyResult:
        result.ok, result.first_bad_seq, result.problem = False, seq, problem
        return result

    keyring = Keyring(public_keys if public_keys is not None else [signing.public_key_bytes()])
    witness = witnessed or []
    rotations = Checkpoint.objects.filter(rotation__isnull=False).order_by("tree_size")
    keyring.learn([*witness, *(as_entry(c) for c in rotations)])
    who = "the pinned key" if public_keys is not None else "the platform's key"
    for entry in witness:
        problem = keyring.problem(entry)
        if problem:
            return broken(
                entry["prev_tree_size"] + 1,
                f"the witnessed checkpoint at {entry['tree_size']} is not signed by {who}: "
                f"{problem}",
            )
    chain = witness_chain_problem(witness)
    if chain is not None:
        return broken(*chain)
    result.witness_from = witness[0]["prev_tree_size"] if witness else 0
    # Witnessed roots to recompute, in ascending tree size; those below the purge anchor cannot
    # be recomputed from the stored events (the stored checkpoint table still answers for them).
    to_check = [e for e in witness if e["tree_size"] >= expected_seq]
    next_witness = to_check[0]["tree_size"] if to_check else None
    witness_index, witness_matched = 0, expected_seq - 1
    sha256 = hashlib.sha256
    check_root_at = checkpoint.tree_size if checkpoint else None
    # Every tree size whose root is checked, so that the loop compares one number per event.
    stops = sorted({e["tree_size"] for e in to_check} | ({check_root_at} if checkpoint else set()))
    stop_index = 0
    next_stop = stops[0] if stops else None
    # The Merkle frontier, inlined (a list of complete subtree hashes): this loop runs once per
    # event and is the cost of verification.
    subtrees, size = list(frontier.hashes()), frontier.size
    loads = orjson.loads
    for seq, record, digest, *columns in _stream_events():
        if seq != expected_seq:
            return broken(expected_seq, f"expected sequence {expected_seq}, found {seq}")
        try:
            event = loads(record)
        except orjson.JSONDecodeError:
            return broken(seq, "the record is not JSON")
        if event.get("seq") != seq:
            return broken(seq, "the row's sequence number disagrees with the hashed record")
        if event.get("prev_hash") != prev_hash:
            return broken(seq, "prev_hash does not match the previous event's hash")
        try:
            when = event["occurred_at"]
            stamp = when[:10] + " " + when[11:26]  # as stored: "YYYY-MM-DD HH:MM:SS.ffffff"
            same = (
                columns[0] == event["event_type"]
                and columns[1] == event["actor_type"]
                and columns[2] == event["actor"][:150]
                and columns[3] == event["object_type"][:64]
                and columns[4] == event["object_id"][:64]
                and bool(columns[5]) is event["regulatory"]
                and columns[6] == event["retention_class"]
                and (columns[7] == stamp or columns[7] + ".000000" == stamp)
            )
        except (KeyError, TypeError):
            same = False
        if not same:
            column = _columns_disagree(event, columns)
            return broken(seq, f"the {column} column disagrees with the hashed record")
        raw = record.encode()
        if sha256(raw).hexdigest() != digest:
            return broken(seq, "hash does not match the record (the event was altered)")
        if columns[0] == "DATA_PURGED":
            payload = event.get("payload")
            problem = _purge_statement_problem(
                payload if isinstance(payload, dict) else {}, keyring
            )
            if problem:
                return broken(seq, problem)
        node, carry = sha256(b"\x00" + raw).digest(), size
        while carry & 1:
            node = sha256(b"\x01" + subtrees.pop() + node).digest()
            carry >>= 1
        subtrees.append(node)
        size += 1
        if seq == next_stop:
            root = merkle.Frontier.from_hashes(subtrees, size).root().hex()
            if seq == check_root_at and root != checkpoint.root_hash:
                return broken(seq, "Merkle root differs from the signed checkpoint")
            while seq == next_witness:
                if root != to_check[witness_index]["root_hash"]:
                    return broken(
                        witness_matched + 1,
                        f"events {witness_matched + 1}..{seq} do not give the root of the "
                        f"witnessed checkpoint at {seq} (rewritten after the last matching "
                        f"checkpoint, at {witness_matched or 'the start'})",
                    )
                witness_matched, witness_index = seq, witness_index + 1
                next_witness = (
                    to_check[witness_index]["tree_size"] if witness_index < len(to_check) else None
                )
            stop_index += 1
            next_stop = stops[stop_index] if stop_index < len(stops) else None
        if result.first_seq is None:
            result.first_seq = seq
        result.events_checked += 1
        prev_hash, expected_seq = digest, seq + 1
    result.last_seq = expected_seq - 1 if result.events_checked else None
    result.last_hash = prev_hash if result.events_checked else None
    if witness and witness[-1]["tree_size"] > expected_seq - 1:
        return broken(
            expected_seq,
            f"the trail ends at {expected_seq - 1} but the witnessed checkpoint at "
            f"{witness[-1]['tree_size']} ({witness[-1]['created_at']}) covers "
            f"{witness[-1]['tree_size']} events (truncated)",
        )
    if checkpoint is not None:
        if public_keys is not None:
            # Pinned: every stored checkpoint, not only the latest, must carry a trusted key.
            previous = 0
            for stored in Checkpoint.objects.order_by("tree_size").iterator(chunk_size=CHUNK):
                problem = keyring.problem(as_entry(stored))
                if problem:
                    return broken(
                        previous + 1,
                        f"the stored checkpoint at {stored.tree_size} is not signed by the "
                        f"pinned key: {problem}",
                    )
                previous = stored.tree_size
        elif keyring.problem(as_entry(checkpoint)):
            return broken(checkpoint.tree_size, "the latest checkpoint's signature is invalid")
        if expected_seq - 1 < checkpoint.tree_size:
            return broken(
                expected_seq,
                f"the trail ends at {expected_seq - 1} but the signed checkpoint covers "
                f"{checkpoint.tree_size} events (truncated)",
            )
        result.checkpoint_tree_size = checkpoint.tree_size
    if witnessed is not None:
        stored = {
            size: (root, signature)
            for size, root, signature in Checkpoint.objects.filter(
                tree_size__gte=witness[0]["tree_size"] if witness else 0
            )
            .values_list("tree_size", "root_hash", "signature")
            .iterator(chunk_size=CHUNK)
        }
        for entry in witness:
            if stored.get(entry["tree_size"]) != (entry["root_hash"], entry["signature"]):
                return broken(
                    entry["prev_tree_size"] + 1,
                    f"the witnessed checkpoint at {entry['tree_size']} "
                    f"({entry['created_at']}) is missing from the database or differs there "
                    "(deleted)",
                )
        result.witness_checked = len(witness)
    # Events the sequencer has not placed yet: reported, and a break once one has waited longer
    # than the maximum merge delay (the sequencer is not running).
    from apps.audit.sequencer import pending_summary

    result.pending_events, oldest_pending = pending_summary()
    if oldest_pending is not None:
        waited = ((now or utcnow()) - oldest_pending).total_seconds()
        result.pending_seconds = max(0.0, round(waited, 3))
        if waited > settings.AUDIT_MAX_MERGE_DELAY_SECONDS:
            return broken(
                (result.last_seq or expected_seq - 1) + 1,
                f"{result.pending_events} events are not sequenced, the oldest stored "
                f"{result.pending_seconds} s ago, longer than the maximum merge delay of "
                f"{settings.AUDIT_MAX_MERGE_DELAY_SECONDS} s (AUDIT_MAX_MERGE_DELAY_SECONDS): "
                "the sequencer is not running (manage.py run_sequencer, or the audit.sequence "
                "beat job)",
            )
    # The unsigned tail: events past the last checkpoint the verdict rests on.
    if witnessed is not None:
        signed_to = witness[-1]["tree_size"] if witness else 0
    else:
        signed_to = checkpoint.tree_size if checkpoint else 0
    last = result.last_seq or 0
    if last > signed_to:
        first_unsigned = max(signed_to + 1, result.first_seq or 1)
        result.unsigned_events = last - first_unsigned + 1
        oldest = (
            AuditEvent.objects.filter(seq=first_unsigned)
            .values_list("occurred_at", flat=True)
            .first()
        )
        if oldest is not None:
            waited = ((now or utcnow()) - oldest).total_seconds()
            result.unsigned_seconds = max(0, int(waited))
        if max_unsigned_seconds is not None and result.unsigned_seconds > max_unsigned_seconds:
            return broken(
                first_unsigned,
                f"{result.unsigned_events} events past the last "
                f"{'witnessed' if witnessed is not None else 'signed'} checkpoint (at "
                f"{signed_to}), the oldest waiting {result.unsigned_seconds} s, more than the "
                f"{max_unsigned_seconds} s allowed",
            )
    return result


def audit_export_lines(*, up_to: int | None = None) -> Iterator[str]:
    """JSON Lines of the trail in sequence order, each the hashed object plus "hash"."""
    rows = AuditEvent.objects.filter(seq__gt=0).order_by("seq").values_list("record", "hash")
    if up_to is not None:
        rows = rows.filter(seq__lte=up_to)
    for record, digest in rows.iterator(chunk_size=CHUNK):
        yield export_line(record, digest) + "\n"


# --- proofs -------------------------------------------------------------------------------------


def _get_leaves(start: int, end: int) -> list[bytes]:
    """Leaf hashes for 0-based leaf indexes [start, end) (leaf i is event seq i + 1)."""
    rows = MerkleLeaf.objects.filter(seq__gt=start, seq__lte=end).order_by("seq")
    leaves = [bytes(h) for h in rows.values_list("hash", flat=True)]
    if len(leaves) != end - start:
        raise ValidationFailed("Merkle leaves are missing.", code="audit_chain_broken")
    return leaves


def _checkpoint(tree_size: int | None) -> Checkpoint:
    if tree_size is None:
        checkpoint = checkpoint_latest()
    else:
        checkpoint = Checkpoint.objects.filter(tree_size=tree_size).first()
    if checkpoint is None:
        raise NotFound("No such checkpoint.", code="checkpoint_not_found")
    return checkpoint


def checkpoint_as_dict(checkpoint: Checkpoint) -> dict:
    from django.conf import settings

    from apps.core.time import rfc3339

    return {
        "log_id": settings.AUDIT_LOG_ID,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "created_at": rfc3339(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "rotation": checkpoint.rotation,
        "public_key": _public_key_of(checkpoint.key_id),
    }


def _public_key_of(key_id: str) -> str | None:
    """The public key (hex) with this key id: the platform's, or one a rotation named."""
    from apps.audit import signing

    current = signing.public_key_bytes()
    if signing.key_id_of(current) == key_id:
        return current.hex()
    for rotation in Checkpoint.objects.filter(rotation__isnull=False).values_list(
        "rotation", flat=True
    ):
        for side in ("from", "to"):
            key = rotation.get(side, "")
            if signing.key_id_of(bytes.fromhex(key)) == key_id:
                return key
    return None


def inclusion_proof(*, seq: int, tree_size: int | None = None) -> dict:
    checkpoint = _checkpoint(tree_size)
    if not 1 <= seq <= checkpoint.tree_size:
        raise ValidationFailed(
            details=field_errors(seq=f"Must be between 1 and {checkpoint.tree_size}.")
        )
    leaf = MerkleLeaf.objects.filter(seq=seq).first()
    if leaf is None:
        raise NotFound("No leaf for this event.", code="leaf_not_found")
    proof = merkle.inclusion_proof(seq - 1, checkpoint.tree_size, _get_leaves)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "leaf_hash": bytes(leaf.hash).hex(),
        "tree_size": checkpoint.tree_size,
        "proof": [h.hex() for h in proof],
        "checkpoint": checkpoint_as_dict(checkpoint),
    }


def consistency_proof(*, first: int, second: int | None = None) -> dict:
    old = _checkpoint(first)
    new = _checkpoint(second)
    if old.tree_size > new.tree_size:
        raise ValidationFailed(details=field_errors(first="Must not be larger than second."))
    proof = merkle.consistency_proof(old.tree_size, new.tree_size, _get_leaves)
    return {
        "first": checkpoint_as_dict(old),
        "second": checkpoint_as_dict(new),
        "proof": [h.hex() for h in proof],
    }


# --- verifying an export, as an outside auditor would -------------------------------------------

EXPORT_FIELDS = frozenset(
    {
        "seq",
        "occurred_at",
        "event_type",
        "actor_type",
        "actor",
        "actor_token",
        "ip",
        "user_agent",
        "request_id",
        "object_type",
        "object_id",
        "payload",
        "regulatory",
        "retention_class",
        "prev_hash",
        "hash",
    }
)


def _anchor_in_export(lines, purged_to: int) -> tuple[str, merkle.Frontier] | None:
    """The anchor hash and Merkle frontier that the export's DATA_PURGED event records for a
    purge ending at `purged_to` (the event itself comes later in the export)."""
    found = None
    for line in lines:
        if isinstance(line, bytes):
            if b'"DATA_PURGED"' not in line:
                continue
        elif '"DATA_PURGED"' not in line:
            continue
        try:
            event = parse_strict(line.decode("utf-8") if isinstance(line, bytes) else line)
            payload = event["payload"]
            if event["event_type"] == "DATA_PURGED" and payload["purged_to"] == purged_to:
                found = (
                    payload["anchor_hash"],
                    merkle.Frontier.from_list(payload["anchor_frontier"]),
                )
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _is_export_event(event: dict | None) -> bool:
    """Whether `event` is the DATA_ACCESS event that records an export of the trail."""
    payload = event.get("payload") if isinstance(event, dict) else None
    return (
        isinstance(payload, dict)
        and event.get("event_type") == "DATA_ACCESS"
        and event.get("object_type") == "audit.auditevent"
        and payload.get("action") == "export"
    )


def verify_export(
    open_lines,
    *,
    checkpoint: dict | None = None,
    public_key: bytes | None = None,
    public_keys: Sequence[bytes] | None = None,
    witness: list[dict] | None = None,
    as_of: int | None = None,
) -> VerifyResult:
    """Verify JSON Lines exported by `export_audit`, knowing only docs/audit-format.md.

    Every line is re-canonicalised from its parsed fields (so an edit anywhere is caught), its
    hash recomputed, and the chain followed; a `checkpoint` (as the API returns it) has its
    signature and Merkle root checked too. A purged export starts at its anchor, which its own
    DATA_PURGED event must vouch for (hash and Merkle frontier). `open_lines()` returns the
    export's lines (str, or bytes decoded here as UTF-8), afresh each call (a purged export is
    read twice). Every line must be one JSON object with no name twice. With `public_key` or
    `public_keys` (pinned by the operator) every signature must be made by those keys; the key
    inside the checkpoint file is then ignored.

    With `witness` (the lines of a witness, by tree size), the witness must be one signed chain,
    every witnessed tree size the export covers must give the witnessed root, the export must end
    with its own export event, and it must reach the last witnessed tree size (else it was cut
    short): the times in the export cannot tell which checkpoints came before it, whoever cut it
    wrote them. `as_of` holds an older export to the witness as of that tree size instead: the
    export must reach `as_of`, checkpoints witnessed past it are not required.
    """
    from apps.audit import canonical
    from apps.audit.keyring import Keyring, message_of

    pinned = list(public_keys or []) + ([public_key] if public_key is not None else [])
    result = VerifyResult(True, 0, None, None, None, None, key_pinned=bool(pinned))

    def broken(seq, problem: str) -> VerifyResult:
        result.ok, result.first_bad_seq, result.problem = False, seq, problem
        return result

    keyring = None
    if pinned or witness is not None:
        from apps.audit import signing

        keyring = Keyring(pinned or [signing.public_key_bytes()])
        keyring.learn(witness or [])
    if witness is not None:
        for entry in witness:
            problem = keyring.problem(entry)
            if problem:
                return broken(
                    entry["prev_tree_size"] + 1,
                    f"the witnessed checkpoint at {entry['tree_size']} is not signed by a "
                    f"trusted key: {problem}",
                )
        chain = witness_chain_problem(witness)
        if chain is not None:
            return broken(*chain)
        result.witness_from = witness[0]["prev_tree_size"] if witness else 0
    roots = {e["tree_size"]: e["root_hash"] for e in witness or []}
    matched = 0
    frontier = merkle.Frontier()
    prev_hash, expected, last_event = None, None, None
    for number, line in enumerate(open_lines(), start=1):
        where = f"line {number}"
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return broken(expected, f"{where}: not UTF-8 (at byte {exc.start})")
        try:
            event = parse_strict(line)
        except DuplicateName as exc:
            return broken(expected, f"{where}: {exc}")
        except ValueError as exc:
            return broken(expected, f"{where}: not JSON ({exc.msg})")
        if not isinstance(event, dict) or set(event) != EXPORT_FIELDS:
            return broken(expected, f"{where}: not an audit event (fields differ from the format)")
        seq, digest = event["seq"], event.pop("hash")
        try:
            record = canonical.canonical_bytes(event)
        except canonical.CanonicalError as exc:
            return broken(seq, f"{where}: {exc}")
        if expected is None:
            expected, prev_hash = seq, GENESIS_HASH
            if seq != 1:
                anchor = _anchor_in_export(open_lines(), seq - 1) if isinstance(seq, int) else None
                if anchor is None or anchor[1].size != seq - 1:
                    return broken(
                        seq,
                        f"{where}: the export starts at {seq}, but no DATA_PURGED "
                        "event in it anchors the chain there",
                    )
                prev_hash, frontier = anchor
            matched = seq - 1
        if seq != expected:
            return broken(expected, f"{where}: expected sequence {expected}, found {seq}")
        if event["prev_hash"] != prev_hash:
            return broken(seq, f"{where}: prev_hash does not match the previous event's hash")
        if hashlib.sha256(record).hexdigest() != digest:
            return broken(seq, f"{where}: hash does not match the event (it was altered)")
        if keyring is not None and event["event_type"] == "DATA_PURGED":
            payload = event["payload"] if isinstance(event["payload"], dict) else {}
            problem = _purge_statement_problem(payload, keyring)
            if problem:
                return broken(seq, f"{where}: {problem}")
        frontier.append(merkle.leaf_hash(record))
        at_checkpoint = checkpoint and seq == checkpoint["tree_size"] == frontier.size
        if at_checkpoint and frontier.root().hex() != checkpoint["root_hash"]:
            return broken(seq, "Merkle root differs from the signed checkpoint")
        if seq in roots:
            if frontier.root().hex() != roots[seq]:
                return broken(
                    matched + 1,
                    f"events {matched + 1}..{seq} do not give the root of the witnessed "
                    f"checkpoint at {seq} (rewritten after the last matching checkpoint, at "
                    f"{matched or 'the start'})",
                )
            matched = seq
        result.first_seq = result.first_seq or seq
        result.events_checked += 1
        prev_hash, expected = digest, seq + 1
        last_event = event
    result.last_seq = expected - 1 if result.events_checked else None
    result.last_hash = prev_hash
    if witness is not None and not _is_export_event(last_event):
        last = result.last_seq or 0
        return broken(
            last + 1,
            f"the export ends at {last} with no export event of its own (an export ends with the "
            "DATA_ACCESS event that records it): it was cut short",
        )
    if witness:
        last = result.last_seq or 0
        # The export must reach the last witnessed checkpoint, or the tree size it is held to.
        # Not "the checkpoints witnessed before its last event": that time is the export's own.
        if as_of is None:
            reach = max(e["tree_size"] for e in witness)
            if last < reach:
                return broken(
                    last + 1,
                    f"the export ends at {last} but the witness holds a checkpoint at {reach} "
                    "(truncated; an older export is verified with --as-of the tree size it was "
                    "taken at)",
                )
        elif last < as_of:
            return broken(
                last + 1,
                f"the export ends at {last}, short of tree size {as_of} (--as-of): truncated",
            )
        result.witness_checked = sum(1 for e in witness if e["tree_size"] <= last)
    if checkpoint:
        from apps.audit import signing

        if pinned:
            problem = keyring.problem(checkpoint)
            if problem and checkpoint.get("key_id") not in keyring.keys:
                return broken(
                    checkpoint["tree_size"],
                    f"the checkpoint is signed by key id {checkpoint.get('key_id')}, "
                    "not the pinned key",
                )
            if problem:
                return broken(checkpoint["tree_size"], "the checkpoint's signature is invalid")
        else:
            key = bytes.fromhex(checkpoint["public_key"])
            if not signing.verify(message_of(checkpoint), checkpoint["signature"], key):
                return broken(checkpoint["tree_size"], "the checkpoint's signature is invalid")
        if (result.last_seq or 0) < checkpoint["tree_size"]:
            return broken((result.last_seq or 0) + 1, "the export is shorter than the checkpoint")
        result.checkpoint_tree_size = checkpoint["tree_size"]
    return result
