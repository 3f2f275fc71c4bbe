"""One pass of the portfolio rules now (what the beat job runs every minute)."""

from django.core.management.base import BaseCommand

from apps.core.context import acting_as_system
from apps.monitoring.services import monitor_run


class Command(BaseCommand):
    help = "Evaluate every active portfolio rule over every book now."

    def add_arguments(self, parser):
        parser.add_argument(
            "--even-if-closed", action="store_true", help="Run even while every venue is shut."
        )

    def handle(self, *args, even_if_closed: bool = False, **options):
        with acting_as_system("command:run_monitor"):
            run = monitor_run(require_open=not even_if_closed)
        if run is None:
            self.stdout.write("Every venue is shut: nothing to check (--even-if-closed to run).")
            return
        self.stdout.write(
            f"{run.status}: {run.rules_evaluated} rules over {run.books} books in "
            f"{run.duration_seconds} s; opened {run.violations_opened}, resolved "
            f"{run.violations_resolved}, active {run.active_violations}."
        )
        if run.error:
            self.stderr.write(run.error)
