"""The witness: every signed checkpoint, also outside the database.

With AUDIT_WITNESS_DIR set, each checkpoint is appended as one JSON line to
`witness-YYYY-MM-DD.jsonl` (the checkpoint's UTC day) in that directory: opened with O_APPEND
only, flushed and fsynced, never rewritten. Each line names the checkpoint before it (tree size
and root) and carries the RFC 9162 consistency proof that its tree extends that one, so a
missing line is itself visible and the lines can be checked on their own. `verify_audit` reads
these lines back and holds the database to them: whoever controls the database cannot unsign
what the witness holds.
"""

import json
import logging
import os
from pathlib import Path

from django.conf import settings

from apps.audit.canonical import parse_strict
from apps.audit.models import Checkpoint
from apps.core.time import rfc3339

logger = logging.getLogger(__name__)

FIELDS = (
    "log_id",
    "tree_size",
    "root_hash",
    "created_at",
    "key_id",
    "signature",
    "prev_tree_size",
    "prev_root_hash",
    "consistency_proof",
    "rotation",
)


def witness_line(
    checkpoint: Checkpoint, previous: Checkpoint | None, proof: list[bytes] | None = None
) -> str:
    return json.dumps(witness_entry(checkpoint, previous, proof), separators=(",", ":")) + "\n"


def witness_entry(
    checkpoint: Checkpoint, previous: Checkpoint | None, proof: list[bytes] | None = None
) -> dict:
    return {
        "log_id": settings.AUDIT_LOG_ID,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "created_at": rfc3339(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "prev_tree_size": previous.tree_size if previous else 0,
        "prev_root_hash": previous.root_hash if previous else None,
        "consistency_proof": [h.hex() for h in proof or []],
        "rotation": checkpoint.rotation,
    }


def witness_everywhere(
    checkpoint: Checkpoint, previous: Checkpoint | None, proof: list[bytes] | None = None
) -> None:
    """The witness directory, then the further witnesses (email, signed webhook) when the
    settings name any. Once the checkpoint has committed; a failure is logged, never raised."""
    witness_append(checkpoint, previous, proof)
    if not (settings.AUDIT_WITNESS_EMAILS or settings.AUDIT_WITNESS_WEBHOOK_URL):
        return
    from apps.audit import hooks

    try:
        hooks.checkpoint_witness_send(line=witness_entry(checkpoint, previous, proof))
    except Exception:  # noqa: BLE001 - a witness that cannot be reached never undoes a checkpoint
        logger.exception("audit witness not sent", extra={"tree_size": checkpoint.tree_size})


def witness_append(
    checkpoint: Checkpoint, previous: Checkpoint | None, proof: list[bytes] | None = None
) -> bool:
    """Append the checkpoint to today's witness file; False (logged as an error) when it cannot.

    Called once the checkpoint has committed: the witness never holds a checkpoint the database
    rolled back. A failure does not undo the checkpoint; the next line's `prev_tree_size` then
    names a checkpoint the witness lacks, and the error log says which.
    """
    directory = settings.AUDIT_WITNESS_DIR
    if not directory:
        return False
    path = Path(directory) / f"witness-{checkpoint.created_at.strftime('%Y-%m-%d')}.jsonl"
    data = witness_line(checkpoint, previous, proof).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.error(
            "audit witness not written",
            extra={"tree_size": checkpoint.tree_size, "path": str(path), "error": str(exc)},
        )
        return False
    return True


class WitnessError(ValueError):
    pass


def witness_read(directory: str | os.PathLike) -> list[dict]:
    """Every witnessed checkpoint in the directory, by tree size. Raises WitnessError when the
    directory cannot be read or a line is not a witness line."""
    root = Path(directory)
    if not root.is_dir():
        raise WitnessError(f"the witness directory {root} does not exist")
    entries = []
    for path in sorted(root.glob("witness-*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    entry = parse_strict(line)  # a name twice would read two ways
                    ok = isinstance(entry, dict) and set(FIELDS) <= set(entry)
                    ok = ok and type(entry["tree_size"]) is int and entry["tree_size"] > 0
                    ok = ok and type(entry["prev_tree_size"]) is int
                    ok = ok and isinstance(entry["consistency_proof"], list)
                except ValueError:
                    ok = False
                if not ok:
                    raise WitnessError(f"{path.name} line {number} is not a witness line")
                entries.append(entry)
    entries.sort(key=lambda e: e["tree_size"])
    return entries


def witness_latest(directory: str | os.PathLike) -> dict | None:
    """The last line of the newest witness file (None when there is none or it cannot be read):
    what the dashboard and the monitor look at, without reading the whole witness."""
    root = Path(directory)
    try:
        files = sorted(root.glob("witness-*.jsonl"), reverse=True)
    except OSError:
        return None
    for path in files:
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 65536))
                lines = fh.read().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "tree_size" in entry and "created_at" in entry:
                return entry
    return None
