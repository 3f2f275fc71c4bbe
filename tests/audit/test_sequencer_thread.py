"""The drain after a commit in a background thread per process (PostgreSQL): the writer only
wakes it; every committed event still ends up in one contiguous, verifiable chain."""

import logging
import os
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from apps.audit import sequencer
from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record

# Generous: the drains take milliseconds; the bound only keeps a broken thread from hanging.
IDLE_WITHIN = 60


def _commit_event(n: int = 0, actor: str = "writer") -> None:
    with transaction.atomic():
        audit_record(event_type=EventType.CONFIG_CHANGED, actor=actor, payload={"n": n})


def _assert_chain(events: int) -> None:
    assert not AuditEvent.objects.filter(seq__lt=0).exists()
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, events + 1))
    result = audit_verify()
    assert result.ok, result.summary()
    assert result.events_checked == events and result.pending_events == 0


@pytest.fixture
def drains_recorded(monkeypatch):
    """The threads that ran a drain, in order."""
    ran: list[int] = []
    real = sequencer.audit_sequence

    def recorded(**kwargs):
        ran.append(threading.get_ident())
        return real(**kwargs)

    monkeypatch.setattr(sequencer, "audit_sequence", recorded)
    return ran


def test_with_the_setting_off_the_writer_drains_after_its_commit(
    audit_transactional_db, settings, drains_recorded
):
    settings.AUDIT_SEQUENCER_THREAD = False
    _commit_event()
    assert drains_recorded == [threading.get_ident()]
    assert sequencer._drainer is None
    _assert_chain(1)


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    @pytest.fixture
    def drain_thread(audit_transactional_db, settings):
        """The drain thread on; stopped (with its connection closed) before the flush."""
        settings.AUDIT_SEQUENCER_THREAD = True
        started: list[sequencer.Drainer] = []
        real_init = sequencer.Drainer.__init__

        def tracked(self):
            real_init(self)
            started.append(self)

        sequencer.Drainer.__init__ = tracked
        try:
            yield started
        finally:
            sequencer.Drainer.__init__ = real_init
            for drainer in started:
                drainer.stop(timeout=IDLE_WITHIN)
                assert not drainer.thread.is_alive()
            sequencer._drainer = None

    def test_concurrent_writers_all_placed_by_the_thread(drain_thread):
        threads, per_thread = 6, 30
        barrier = threading.Barrier(threads)
        errors = []

        def worker(n: int) -> None:
            try:
                barrier.wait()
                for i in range(per_thread):
                    _commit_event(i, actor=f"thread-{n}")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not errors, errors
        assert sequencer.drain_idle(IDLE_WITHIN)
        assert len(drain_thread) == 1  # one thread for the process, not one per writer
        _assert_chain(threads * per_thread)

    def test_the_commit_wakes_the_thread_and_does_not_drain_itself(drain_thread, drains_recorded):
        with transaction.atomic():
            audit_record(event_type=EventType.CONFIG_CHANGED, actor="writer", payload={})
        assert threading.get_ident() not in drains_recorded
        assert sequencer.drain_idle(IDLE_WITHIN)
        (drainer,) = drain_thread
        assert drainer.thread.ident != threading.get_ident()
        assert drains_recorded and set(drains_recorded) == {drainer.thread.ident}
        _assert_chain(1)

    def test_a_failed_drain_is_logged_and_the_thread_drains_at_the_next_wake(
        drain_thread, monkeypatch, caplog
    ):
        real = sequencer.audit_sequence
        failures = []

        def fails_once(**kwargs):
            if not failures:
                failures.append(threading.get_ident())
                raise RuntimeError("database went away")
            return real(**kwargs)

        monkeypatch.setattr(sequencer, "audit_sequence", fails_once)
        with caplog.at_level(logging.ERROR, logger="apps.audit.sequencer"):
            _commit_event(1)
            assert sequencer.drain_idle(IDLE_WITHIN)
        assert failures
        assert any(r.exc_info and "drain failed" in r.getMessage() for r in caplog.records)
        (drainer,) = drain_thread
        assert drainer.thread.is_alive()
        assert sequencer.pending_summary()[0] == 1  # left for the next drain

        _commit_event(2)
        assert sequencer.drain_idle(IDLE_WITHIN)
        assert drain_thread == [drainer]  # the same thread, not a new one
        _assert_chain(2)

    def test_a_forked_process_starts_its_own_thread(drain_thread, monkeypatch):
        _commit_event(1)
        assert sequencer.drain_idle(IDLE_WITHIN)
        (parent,) = drain_thread

        child_pid = os.getpid() + 1
        monkeypatch.setattr(os, "getpid", lambda: child_pid)
        _commit_event(2)
        assert sequencer.drain_idle(IDLE_WITHIN)
        assert len(drain_thread) == 2
        child = drain_thread[1]
        assert child.pid == child_pid and child.thread is not parent.thread
        assert sequencer._drainer is child
        monkeypatch.undo()
        _assert_chain(2)

    def test_a_dead_thread_is_started_again(drain_thread):
        _commit_event(1)
        assert sequencer.drain_idle(IDLE_WITHIN)
        (first,) = drain_thread
        first.stop(timeout=IDLE_WITHIN)
        assert not first.thread.is_alive()

        _commit_event(2)
        assert sequencer.drain_idle(IDLE_WITHIN)
        assert len(drain_thread) == 2 and drain_thread[1].thread.is_alive()
        _assert_chain(2)

else:

    def test_on_sqlite_the_writer_drains_whatever_the_setting(
        audit_transactional_db, settings, drains_recorded
    ):
        settings.AUDIT_SEQUENCER_THREAD = True
        _commit_event()
        assert drains_recorded == [threading.get_ident()]
        assert sequencer._drainer is None
        _assert_chain(1)


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_a_process_that_ends_places_what_it_committed(drain_thread, monkeypatch):
        """A command or a recycled worker ends right after its commit: at exit it drains
        itself instead of leaving its events to the backstop."""
        monkeypatch.setattr(sequencer.Drainer, "_drain", lambda self: None)  # a thread too late
        _commit_event(1)
        assert sequencer.pending_summary()[0] == 1
        sequencer._drain_at_exit()
        assert sequencer.pending_summary()[0] == 0
        _assert_chain(1)
