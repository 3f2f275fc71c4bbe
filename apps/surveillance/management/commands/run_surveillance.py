"""One incremental pass of every detector: the events past the watermark, up to the head."""

from django.core.management.base import BaseCommand

from apps.core.context import acting_as_system
from apps.surveillance.runner import BATCH_EVENTS, surveillance_catch_up


class Command(BaseCommand):
    help = "Run every surveillance detector over the events recorded since the last run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH_EVENTS,
            help="Events per transaction (default %(default)s).",
        )

    def handle(self, *args, batch: int, **options):
        with acting_as_system("command:run_surveillance"):
            results = surveillance_catch_up(batch=max(1, batch))
        if not results:
            self.stdout.write("surveillance: no new events")
        for result in results:
            self.stdout.write(f"surveillance: {result.summary()}")
        raised = sum(len(r.raised) for r in results)
        self.stdout.write(f"surveillance: {raised} new alert(s)")
