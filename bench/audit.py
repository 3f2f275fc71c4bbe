"""Audit trail benchmarks: append throughput (1 and 8 writers), verify throughput and memory
over a large trail, and the cost of hashing an event compared with SHA-256 alone.

An append is a writer's transaction storing its event unsequenced, then its drain after the
commit (the sequencer, when the lock is free; else the holder places it): the rate counts events
placed in the chain, since every writer's drain has returned when the clock stops.

Runs on a throwaway test database: PostgreSQL when DATABASE_URL is set, else SQLite.
Usage: python bench/audit.py [--events N] [--appends N]
"""

import argparse
import hashlib
import resource
import threading
import time
from datetime import UTC, datetime, timedelta

from common import django_on_test_database, drop_test_database


def sample_payload(i: int) -> dict:
    return {
        "order": {
            "client_order_id": f"strat7-{i:08d}",
            "account": "ACC-001",
            "instrument": "AAPL",
            "side": "buy" if i % 2 else "sell",
            "order_type": "limit",
            "quantity": "100",
            "limit_price": "189.5",
            "status": "accepted",
        },
        "metadata": {"strategy": "mean-rev-7", "signal_id": f"sig-{i}", "risk_score": "0.42"},
    }


def bench_hashing(n: int = 20000) -> None:
    from apps.audit import canonical
    from apps.audit.services import GENESIS_HASH

    events = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        events.append(
            {
                "seq": i + 1,
                "occurred_at": (base + timedelta(seconds=i)).isoformat(),
                "event_type": "ORDER_SUBMITTED",
                "actor_type": "token",
                "actor": "trader",
                "actor_token": "oms",
                "ip": "10.0.0.1",
                "user_agent": "client/1.0",
                "request_id": f"{i:032x}",
                "object_type": "trading.order",
                "object_id": str(i),
                "payload": sample_payload(i),
                "regulatory": True,
                "retention_class": "trading",
                "prev_hash": GENESIS_HASH,
            }
        )
    blobs = [canonical.canonical_bytes(e) for e in events]

    t0 = time.perf_counter()
    for blob in blobs:
        hashlib.sha256(blob).hexdigest()
    sha_only = (time.perf_counter() - t0) / n

    t0 = time.perf_counter()
    for event in events:
        hashlib.sha256(canonical.canonical_bytes(event)).hexdigest()
    checked = (time.perf_counter() - t0) / n

    t0 = time.perf_counter()
    for event in events:
        hashlib.sha256(canonical.canonical_bytes_unchecked(event)).hexdigest()
    unchecked = (time.perf_counter() - t0) / n

    try:
        import rfc8785

        t0 = time.perf_counter()
        for event in events[:5000]:
            hashlib.sha256(rfc8785.dumps(event)).hexdigest()
        reference = (time.perf_counter() - t0) / 5000
    except ImportError:
        reference = float("nan")

    print("hashing one event (canonical JSON + SHA-256), per event:")
    print(f"  SHA-256 alone of the canonical bytes   {sha_only * 1e6:8.2f} µs")
    print(
        f"  validate + canonicalise + SHA-256      {checked * 1e6:8.2f} µs"
        f"   ratio to SHA-256 alone {checked / sha_only:6.1f}x"
    )
    print(
        f"  canonicalise (no validation) + SHA-256 {unchecked * 1e6:8.2f} µs"
        f"   ratio to SHA-256 alone {unchecked / sha_only:6.1f}x"
    )
    print(
        f"  rfc8785 reference library + SHA-256    {reference * 1e6:8.2f} µs"
        f"   ratio to SHA-256 alone {reference / sha_only:6.1f}x"
    )


def bench_append(appends: int, threads: int) -> float:
    from django.db import connection, transaction

    from apps.audit.services import audit_record

    per_thread = appends // threads
    barrier = threading.Barrier(threads + 1)

    errors = []

    def worker(n: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                with transaction.atomic():
                    audit_record(
                        event_type="ORDER_SUBMITTED",
                        actor=f"bench-{n}",
                        object_type="trading.order",
                        object_id=i,
                        payload=sample_payload(i),
                    )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    # Counted until every event is in the chain: the process's drain thread (PostgreSQL) places
    # them after the commits; anything it has not reached yet is placed here.
    from apps.audit.sequencer import audit_sequence, drain_idle, pending_summary

    drain_idle(60)
    audit_sequence(wait=True)
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} appending threads failed: {errors[0]!r}")

    left, _ = pending_summary()
    if left:
        raise RuntimeError(f"{left} events left unsequenced after the writers returned")
    return per_thread * threads / elapsed


def fill_chain(total: int, batch: int = 10000) -> None:
    """Append `total` valid chained events quickly (bulk insert; this is set-up, not measured)."""
    from apps.audit import canonical
    from apps.audit.models import AuditChainHead, AuditEvent

    head = AuditChainHead.objects.get(pk=1)
    seq, prev = head.seq, head.hash
    base = datetime(2026, 1, 1, tzinfo=UTC)
    done = 0
    while done < total:
        rows = []
        for _ in range(min(batch, total - done)):
            seq += 1
            when = base + timedelta(milliseconds=seq)
            event = {
                "seq": seq,
                "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "event_type": "ORDER_SUBMITTED",
                "actor_type": "system",
                "actor": "bench",
                "actor_token": None,
                "ip": None,
                "user_agent": None,
                "request_id": None,
                "object_type": "trading.order",
                "object_id": str(seq),
                "payload": sample_payload(seq),
                "regulatory": True,
                "retention_class": "trading",
                "prev_hash": prev,
            }
            record = canonical.canonical_bytes_unchecked(event)
            prev = hashlib.sha256(record).hexdigest()
            rows.append(
                AuditEvent(
                    seq=seq,
                    occurred_at=when,
                    event_type="ORDER_SUBMITTED",
                    actor_type="system",
                    actor="bench",
                    object_type="trading.order",
                    object_id=str(seq),
                    regulatory=True,
                    retention_class="trading",
                    record=record.decode(),
                    hash=prev,
                )
            )
        AuditEvent.objects.bulk_create(rows, batch_size=batch)
        done += len(rows)
    AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def bench_verify(events: int) -> None:
    from apps.audit.models import AuditEvent
    from apps.audit.selectors import audit_verify

    t0 = time.perf_counter()
    fill_chain(events - AuditEvent.objects.count())
    print(f"(set-up: {events} chained events stored in {time.perf_counter() - t0:.0f} s)")

    peak = [rss_mb()]
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    before = rss_mb()
    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    result = audit_verify()
    elapsed = time.perf_counter() - t0
    stop.set()
    watcher.join()
    assert result.ok, result.summary()
    rate = result.events_checked / elapsed
    print(
        f"verify: {result.events_checked} events in {elapsed:.1f} s = {rate:,.0f} events/s"
        f"   (target 100,000/s: ratio {rate / 100_000:.2f})"
    )
    print(
        f"verify memory: RSS {before:.0f} MB before, peak {peak[0]:.0f} MB during"
        f" (+{peak[0] - before:.0f} MB for {result.events_checked} events)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=4000)
    args = parser.parse_args()

    connection, name = django_on_test_database()
    try:
        print(f"database: {connection.vendor}")
        bench_hashing()
        one = bench_append(args.appends, 1)
        eight = bench_append(args.appends, 8)
        print(
            f"audit append (stored, committed and sequenced): 1 writer {one:,.0f} events/s;"
            f" 8 writers {eight:,.0f} events/s (ratio 8/1 {eight / one:.2f}, target >= 1)"
        )
        bench_verify(args.events)
    finally:
        drop_test_database(connection, name)


if __name__ == "__main__":
    main()
