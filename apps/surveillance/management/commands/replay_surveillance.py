"""Run the detectors over the events of a date range (after changing their parameters, say)."""

from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.core.context import acting_as_system
from apps.surveillance.runner import surveillance_replay


def _day(value: str):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Replay every enabled detector over the events recorded from --from to --to (UTC days, "
        "both included). Prints the findings; --store raises them as alerts (patterns already "
        "recorded are not recorded twice)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, help="Last day, YYYY-MM-DD.")
        parser.add_argument("--store", action="store_true", help="Raise the findings as alerts.")

    def handle(self, *args, start: str, end: str, store: bool, **options):
        first, last = _day(start), _day(end)
        if last < first:
            raise CommandError("--to is before --from.")
        begin = datetime.combine(first, time.min, tzinfo=UTC)
        finish = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
        with acting_as_system("command:replay_surveillance"):
            findings, raised, added = surveillance_replay(start=begin, end=finish, store=store)
        for finding in findings:
            when = datetime.fromtimestamp(finding.ts, tz=UTC).isoformat()
            self.stdout.write(
                f"{when} #{finding.seq} {finding.detector} {finding.severity} "
                f"score {finding.score}: {finding.title}"
            )
        self.stdout.write(f"replay {first}..{last}: {len(findings)} finding(s)")
        if store:
            self.stdout.write(f"{len(raised)} alert(s) raised, {len(added)} added to")
