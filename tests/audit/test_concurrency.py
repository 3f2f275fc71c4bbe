"""8 threads appending at once leave one contiguous, verifiable chain (PostgreSQL)."""

import threading

from django.conf import settings
from django.db import connection, transaction

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record

THREADS = 8
PER_THREAD = 40

if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_eight_threads_append_without_forks_or_gaps(audit_transactional_db):
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
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, THREADS * PER_THREAD + 1))
        result = audit_verify()
        assert result.ok, result.summary()
        assert result.events_checked == THREADS * PER_THREAD
