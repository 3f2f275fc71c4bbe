"""Concurrent writers on PostgreSQL: one contiguous, verifiable chain, every change with its
event, none lost, no fork, and no writer waiting for another on the chain."""

import json
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify
from apps.audit.sequencer import _try_lock, audit_sequence
from apps.audit.services import audit_record

THREADS = 8
PER_THREAD = 40


class Refused(Exception):
    pass


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_eight_threads_append_without_forks_or_gaps(audit_transactional_db):
        """Each writer's own drain after its commit, and nothing else, sequences everything:
        a writer that finds the lock taken leaves its event to the holder, which looks again
        after releasing; so when every writer has returned, nothing is left unsequenced."""
        barrier = threading.Barrier(THREADS)
        errors = []

        def worker(n: int) -> None:
            try:
                barrier.wait()
                for i in range(PER_THREAD):
                    with transaction.atomic():
                        audit_record(
                            event_type=EventType.CONFIG_CHANGED,
                            actor=f"thread-{n}",
                            payload={"thread": n, "i": i},
                        )
                    if i % 5 == 4:  # a change that rolls back leaves no event
                        try:
                            with transaction.atomic():
                                audit_record(
                                    event_type=EventType.CONFIG_CHANGED,
                                    actor=f"thread-{n}",
                                    payload={"thread": n, "i": i, "rolled_back": True},
                                )
                                raise Refused
                        except Refused:
                            pass
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        _run([threading.Thread(target=worker, args=(n,)) for n in range(THREADS)])
        assert not errors, errors
        assert not AuditEvent.objects.filter(seq__lt=0).exists()  # none stranded
        seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, THREADS * PER_THREAD + 1))
        assert not AuditEvent.objects.filter(record__contains="rolled_back").exists()
        # Each writer's events are in the chain in the order it committed them.
        for n in range(THREADS):
            mine = AuditEvent.objects.filter(actor=f"thread-{n}").order_by("seq")
            assert [json.loads(e.record)["payload"]["i"] for e in mine] == list(range(PER_THREAD))
        result = audit_verify()
        assert result.ok, result.summary()
        assert result.events_checked == THREADS * PER_THREAD and result.pending_events == 0

    def test_writers_never_wait_for_the_sequencer(audit_transactional_db):
        """While a sequencer holds the lock (here: for as long as the test likes), writers
        still commit, each without waiting on it (lock_timeout: a writer waiting for the
        sequencer would wait for as long as the test holds it and fail; the second allowed covers
        the brief locks of the database's own housekeeping, such as a vacuum truncating the
        table); their events wait in order and are placed once it lets go."""
        holding, release = threading.Event(), threading.Event()

        def sequencer() -> None:
            try:
                with transaction.atomic():
                    assert _try_lock()
                    holding.set()
                    release.wait()
            finally:
                connection.close()

        holder = threading.Thread(target=sequencer)
        holder.start()
        holding.wait()
        errors = []

        def writer(n: int) -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '1s'")
                for i in range(10):
                    with transaction.atomic():
                        audit_record(
                            event_type=EventType.CONFIG_CHANGED, actor=f"w{n}", payload={"i": i}
                        )
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        try:
            _run([threading.Thread(target=writer, args=(n,)) for n in range(4)])
        finally:
            release.set()
            holder.join()
        assert not errors, errors
        assert AuditEvent.objects.filter(seq__lt=0).count() == 40  # stored, not yet placed
        assert audit_sequence() == 40
        assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 41))
        assert audit_verify().ok

    def test_two_sequencers_never_fork_the_chain(audit_transactional_db):
        for i in range(200):
            with transaction.atomic():
                audit_record(event_type=EventType.CONFIG_CHANGED, actor="w", payload={"i": i})
        # Four threads that each write and then drain on their own, in small batches, racing.
        barrier = threading.Barrier(4)
        placed, errors = [], []

        def write_then_sequence(n: int) -> None:
            try:
                barrier.wait()
                for i in range(25):
                    with transaction.atomic():
                        audit_record(
                            event_type=EventType.CONFIG_CHANGED, actor=f"s{n}", payload={"i": i}
                        )
                    placed.append(audit_sequence(limit=3))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        _run([threading.Thread(target=write_then_sequence, args=(n,)) for n in range(4)])
        assert not errors, errors
        assert not AuditEvent.objects.filter(seq__lt=0).exists()
        seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, 301))
        assert audit_verify().ok

else:

    @pytest.mark.audit_after_commit
    def test_the_single_writer_sequences_after_each_commit(audit_transactional_db):
        """SQLite: one writer at a time; each commit's drain places its events."""
        for i in range(20):
            with transaction.atomic():
                audit_record(event_type=EventType.CONFIG_CHANGED, actor="w", payload={"i": i})
        assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
            range(1, 21)
        )
        assert audit_verify().ok
