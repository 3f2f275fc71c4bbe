"""The sequencer: gives committed, unsequenced events their place in the hash chain.

A writer's transaction stores its event unsequenced (`audit_record`): no chain-wide lock, so
concurrent writers never wait for each other on the chain. One sequencer at a time (on
PostgreSQL the holder of a transaction-level advisory lock; on SQLite the single writer) then
takes the committed unsequenced events in order of arrival and gives each the next `seq`, the
previous event's hash as `prev_hash`, and its own `hash`, in one transaction with the chain head.
This is how Trillian integrates queued leaves into its tree within a maximum merge delay.

When it runs:

- after every commit that wrote an event (`transaction.on_commit`): it tries the lock and drains;
  when another sequencer holds the lock, that one drains our event after it releases (each
  sequencer checks again for pending events after releasing, so none is stranded). On
  PostgreSQL (with `AUDIT_SEQUENCER_THREAD`, the default) that drain runs off the request path,
  in one background thread per process on its own connection: the commit only wakes it, and
  the commits that land while it drains are placed together by its next drain. On SQLite, or
  with the setting off, the writer drains itself, right after its commit;
- before a reader that needs sequenced events reads (export, checkpoints, the surveillance
  pass, the audit API), so what it reads is complete up to now;
- as a backstop, for an event whose writer died between its commit and the drain: the
  `audit.sequence` beat job every second, or `manage.py run_sequencer` (a loop) in production.

The order is that of arrival among the events committed when the sequencer looks, and an event
committed after another was sequenced always comes after it: a change that happens after
another one commits (a fill after its order) always has the larger sequence number.
"""

import atexit
import hashlib
import logging
import os
import threading
from datetime import datetime

import orjson
from django.conf import settings
from django.db import connection, transaction

from apps.audit import canonical
from apps.audit.models import AuditChainHead, AuditEvent
from apps.core import sql
from apps.core.sql import quote

logger = logging.getLogger(__name__)

# The advisory lock key ("audi" in ASCII): one sequencer at a time, per database.
LOCK_KEY = 0x61756469
BATCH = 2000

_EVENTS = quote(AuditEvent._meta.db_table)
_HEAD = quote(AuditChainHead._meta.db_table)


def _try_lock(wait: bool = False) -> bool:
    """Take the sequencer's lock for this transaction; without `wait`, only if it is free."""
    if connection.vendor == "postgresql":
        if wait:
            sql.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            return True
        return sql.one("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])[0]
    # SQLite: a write takes the database's one write lock until commit (waiting for it, as
    # every writer does there).
    sql.execute(f"UPDATE {_HEAD} SET seq = seq WHERE id = 1")  # noqa: S608 - constant table names
    return True


def _head() -> tuple[int, str]:
    found = sql.one(f"SELECT seq, hash FROM {_HEAD} WHERE id = 1")  # noqa: S608 - constant table names
    if found is None:
        head, _ = AuditChainHead.objects.get_or_create(pk=1)
        return head.seq, head.hash
    return found


def sequenced_record(record: str, seq: int, prev_hash: str) -> tuple[str, str]:
    """The record of an unsequenced event with its place in the chain, and that record's hash."""
    event = orjson.loads(record)
    event["seq"] = seq
    event["prev_hash"] = prev_hash
    placed = canonical.canonical_bytes_unchecked(event)
    return placed.decode(), hashlib.sha256(placed).hexdigest()


def _sequence_batch(limit: int) -> int:
    """Sequence up to `limit` pending events, under the lock, in the current transaction."""
    oldest_first = f"SELECT seq, record FROM {_EVENTS} WHERE seq < 0 ORDER BY seq DESC LIMIT %s"  # noqa: S608 - constant table names
    pending = sql.rows(oldest_first, [limit])
    if not pending:
        return 0
    seq, prev = _head()
    updates = []
    for placeholder, record in pending:
        seq += 1
        placed, prev = sequenced_record(record, seq, prev)
        updates.append((placeholder, seq, placed, prev))
    if connection.vendor == "postgresql":
        # One round trip: the events and the head move together.
        values = ", ".join(["(%s::bigint, %s::bigint, %s::text, %s::text)"] * len(updates))
        placed_count = sql.one(
            f"WITH placed AS (UPDATE {_EVENTS} AS e SET seq = v.seq, record = v.record, "  # noqa: S608 - constant names
            f"hash = v.hash FROM (VALUES {values}) AS v(placeholder, seq, record, hash) "
            "WHERE e.seq = v.placeholder RETURNING 1), "
            f"head AS (UPDATE {_HEAD} SET seq = %s, hash = %s WHERE id = 1 RETURNING 1) "
            "SELECT (SELECT count(*) FROM placed), (SELECT count(*) FROM head)",
            [value for row in updates for value in row] + [seq, prev],
        )
        if tuple(placed_count) != (len(updates), 1):
            raise RuntimeError(f"audit sequencer placed {placed_count}, expected {len(updates)}")
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {_EVENTS} SET seq = %s, record = %s, hash = %s WHERE seq = %s",  # noqa: S608
                [(s, placed, digest, placeholder) for placeholder, s, placed, digest in updates],
            )
        sql.execute(f"UPDATE {_HEAD} SET seq = %s, hash = %s WHERE id = 1", [seq, prev])  # noqa: S608 - constant table names
    return len(updates)


def _pending_exists() -> bool:
    return sql.one(f"SELECT EXISTS (SELECT 1 FROM {_EVENTS} WHERE seq < 0)")[0] in (True, 1)  # noqa: S608 - constant table names


def audit_sequence(*, wait: bool = False, limit: int = BATCH) -> int:
    """Sequence every committed unsequenced event; returns how many this call placed.

    Returns at once (0) when another sequencer holds the lock: that one picks up whatever is
    pending after it releases. With `wait`, waits for the lock instead, so that on return every
    event committed before the call is sequenced (a reader that must include its own event).
    Inside a caller's transaction the lock stays held until that transaction ends, so this
    drains what the transaction can see (its own events too) and drains again after its commit.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            if not _try_lock(wait):
                return 0
            total = 0
            while (count := _sequence_batch(limit)) == limit:
                total += count
            total += count
        sequence_after_commit()
        return total
    total = 0
    while True:
        with transaction.atomic():
            if not _try_lock(wait):
                return total
            count = _sequence_batch(limit)
        total += count
        # Released: an event that committed while the lock was held, whose writer found the lock
        # taken, is pending now and ours to place.
        if count < limit and not _pending_exists():
            return total


def sequence_after_commit() -> None:
    """Queue one drain after the current transaction commits (once per transaction)."""
    if not connection.in_atomic_block:
        _drain_after_commit()
        return
    for _savepoints, callback, _robust in connection.run_on_commit:
        if callback is _drain_after_commit:
            return
    transaction.on_commit(_drain_after_commit, robust=True)


def _drain_after_commit() -> None:
    if connection.vendor == "postgresql" and settings.AUDIT_SEQUENCER_THREAD:
        drainer().wake()
    else:
        # SQLite has one writer, this process: a drain elsewhere would only wait for it.
        audit_sequence()


class Drainer:
    """The background thread that drains after this process's commits, on its own connection.

    A wake sets the event; the thread clears it and drains, so the wakes that arrive during a
    drain make it drain once more, and what they committed is placed in one batch. A failed
    drain is logged and its connection closed (the next drain opens a new one); the backstop
    places the events if no wake follows.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._event = threading.Event()
        self._progress = threading.Condition()
        self._asked = 0  # wakes so far
        self._served = 0  # wakes that a finished drain has answered
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive()

    def wake(self) -> None:
        with self._progress:
            self._asked += 1
        self._event.set()

    def idle(self, timeout: float) -> bool:
        """Wait until a drain that began after every wake so far has finished (False on
        timeout): then what was committed before the call is placed, unless that drain failed."""
        with self._progress:
            asked = self._asked
            return self._progress.wait_for(lambda: self._served >= asked, timeout)

    def stop(self, timeout: float | None = None) -> None:
        """End the thread after its current drain, closing its connection."""
        self._stopping = True
        self._event.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._event.wait()
                with self._progress:
                    self._event.clear()
                    asked = self._asked
                if self._stopping:
                    break
                self._drain()
                with self._progress:
                    self._served = asked
                    self._progress.notify_all()
        finally:
            connection.close()

    def _drain(self) -> None:
        try:
            # As Django does between requests: a connection past CONN_MAX_AGE, or broken, goes.
            connection.close_if_unusable_or_obsolete()
            audit_sequence()
        except Exception:
            logger.exception("audit sequencer drain failed")
            try:
                connection.close()
            except Exception:
                logger.exception("audit sequencer could not close its connection")


_drainer: Drainer | None = None
_drainer_lock = threading.Lock()


def drainer() -> Drainer:
    """This process's drain thread, started on first use, and again if it died or if the
    process forked (a thread does not survive a fork: a child starts its own)."""
    global _drainer
    current = _drainer
    if current is not None and current.alive():
        return current
    with _drainer_lock:
        if _drainer is None or not _drainer.alive():
            _drainer = Drainer()
            if os.getpid() not in _exit_hooked:
                _exit_hooked.add(os.getpid())
                atexit.register(_drain_at_exit)
        return _drainer


_exit_hooked: set[int] = set()


def _drain_at_exit() -> None:
    """A process that ends (a command, a worker recycled) places what waits, rather than
    leave it to the backstop, for at most EXIT_DRAIN_SECONDS. Not after `drain_stop` (its
    database may be gone)."""
    current = _drainer
    if current is None or current.pid != os.getpid() or current._stopping:
        return
    current.stop(EXIT_DRAIN_SECONDS)

    def last_drain() -> None:
        try:
            audit_sequence()
        except Exception:  # noqa: BLE001 - the process is ending: the backstop places what waits
            logger.warning("audit sequencer: the drain at exit failed", exc_info=True)
        finally:
            connection.close()

    final = threading.Thread(target=last_drain, name="audit-sequencer-exit", daemon=True)
    final.start()
    final.join(EXIT_DRAIN_SECONDS)


EXIT_DRAIN_SECONDS = 10


def drain_idle(timeout: float) -> bool:
    """Wait until the drain thread has answered every wake so far (True at once if none runs)."""
    current = _drainer
    if current is None or not current.alive():
        return True
    return current.idle(timeout)


def drain_stop(timeout: float | None = None) -> None:
    """Stop this process's drain thread after its current drain (before dropping a database it
    is connected to, say); the next wake starts another."""
    current = _drainer
    if current is not None and current.alive():
        current.stop(timeout)


def _after_fork_in_child() -> None:
    # The lock may have been held by another thread of the parent at the fork.
    global _drainer_lock
    _drainer_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def audit_placed(row: AuditEvent) -> AuditEvent:
    """The event `audit_record` returned, as it stands in the chain: sequenced now if it was
    not yet (waiting for the lock), and read back. Inside the writer's own transaction, only
    that transaction can place it (it is not committed): it is placed here, with the lock held
    to commit."""
    if row.seq > 0:
        return row
    audit_sequence(wait=True)
    unplaced = orjson.loads(row.record)
    candidates = AuditEvent.objects.filter(
        seq__gt=0,
        queued_at=row.queued_at,
        event_type=row.event_type,
        actor=row.actor,
        object_type=row.object_type,
        object_id=row.object_id,
    ).order_by("-seq")
    for found in candidates:
        event = orjson.loads(found.record)
        event.pop("seq", None)
        event.pop("prev_hash", None)
        if event == unplaced:
            return found
    raise AuditEvent.DoesNotExist("the event is not in the chain (rolled back?)")


def head_seq() -> int:
    """The last sequence number in the chain (0 when empty)."""
    return _head()[0]


def pending_summary() -> tuple[int, datetime | None]:
    """How many events wait to be sequenced, and when the oldest of them was stored."""
    from django.db.models import Count, Min

    found = AuditEvent.objects.filter(seq__lt=0).aggregate(n=Count("seq"), oldest=Min("queued_at"))
    return found["n"], found["oldest"]
