"""Keep the audit trail sequenced: the production backstop of the after-commit drain."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from apps.audit.sequencer import audit_sequence


class Command(BaseCommand):
    help = (
        "Sequence committed audit events in a loop (every quarter of "
        "AUDIT_MAX_MERGE_DELAY_SECONDS), or once with --once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Drain once and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between drains (default: a quarter of the maximum merge delay).",
        )

    def handle(self, *args, once: bool, interval: float | None, **options):
        if once:
            self.stdout.write(f"sequenced {audit_sequence(wait=True)} events")
            return
        pause = interval if interval is not None else settings.AUDIT_MAX_MERGE_DELAY_SECONDS / 4
        if pause <= 0:
            self.stderr.write("--interval must be positive")
            raise SystemExit(2)
        while True:
            close_old_connections()
            count = audit_sequence()
            if count:
                self.stdout.write(f"sequenced {count} events")
            time.sleep(pause)
