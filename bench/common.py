"""Shared set-up: Django on a throwaway test database (never the working one)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_on_test_database():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if connection.vendor == "sqlite":
        # A file, not memory: threads need their own connections to one database.
        from django.conf import settings

        connection.settings_dict["TEST"]["NAME"] = str(settings.VAR_DIR / "bench.sqlite3")
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return connection, name


def drop_test_database(connection, name) -> None:
    connection.creation.destroy_test_db(name, verbosity=0)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class PeakRss:
    """`with PeakRss() as peak:` samples the resident memory every 5 ms; afterwards
    `peak.before` and `peak.peak` (MB) say where it started and how high it went."""

    def __init__(self, every: float = 0.005) -> None:
        import threading

        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(self.every):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> "PeakRss":
        self.before = self.peak = rss_mb()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_mb())
