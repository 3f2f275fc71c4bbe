"""What-if replay of proposed rules over past orders.

    python manage.py replay_rules --from 2026-01-01 --to 2026-12-31 [--rule CODE ...]

Without --rule it replays every draft rule, every rule awaiting approval and every rule with a
pending change (plus the rules in shadow testing unless --no-testing). Stores nothing.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from apps.rules.models import ComplianceRule
from apps.rules.replay import format_table, replay


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Replay past orders against the current rules plus the proposed ones (what-if)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, type=str)
        parser.add_argument("--to", dest="date_to", required=True, type=str)
        parser.add_argument(
            "--rule",
            dest="rules",
            action="append",
            default=[],
            metavar="CODE",
            help="A rule to replay as if active (repeat for more). Default: every proposal.",
        )
        parser.add_argument(
            "--no-testing",
            dest="include_testing",
            action="store_false",
            help="Do not replay the rules in shadow testing as if they were live.",
        )
        parser.add_argument(
            "--all",
            dest="show_all",
            action="store_true",
            help="List every order, not only those whose decision would change.",
        )

    def handle(self, *args, **options) -> None:
        date_from, date_to = _date(options["date_from"]), _date(options["date_to"])
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        rules = None
        if options["rules"]:
            codes = list(dict.fromkeys(options["rules"]))
            found = {r.code: r for r in ComplianceRule.objects.filter(code__in=codes)}
            missing = [c for c in codes if c not in found]
            if missing:
                raise CommandError(f"Unknown rule code(s): {', '.join(missing)}")
            rules = [found[c] for c in codes]
        report = replay(
            date_from=date_from,
            date_to=date_to,
            rules=rules,
            include_testing=options["include_testing"],
        )
        rows = report.rows if options["show_all"] else report.changed
        if rows:
            self.stdout.write(format_table(rows))
        else:
            self.stdout.write("No order's decision would change.")
        totals = report.totals
        self.stdout.write("")
        self.stdout.write(
            f"Period: {date_from} to {date_to}; {report.active_rules} active rules; "
            f"replayed as proposed: {', '.join(report.rules) or '-'}"
            + (f"; retired: {', '.join(report.retired)}" if report.retired else "")
        )
        self.stdout.write(f"Orders replayed:  {totals['orders']}")
        self.stdout.write(f"Newly rejected:   {totals['newly_rejected']}")
        self.stdout.write(f"Newly held:       {totals['newly_held']}")
        self.stdout.write(f"Newly passing:    {totals['newly_passing']}")
        if totals["errors"]:
            self.stdout.write(f"Not evaluable:    {totals['errors']} (counted as rejected)")
        if totals["drifted"]:
            self.stdout.write(
                f"Decided differently today by the active rules alone: {totals['drifted']} "
                "(not the proposal's effect, not counted above)"
            )
        if report.by_rule:
            self.stdout.write("By rule:")
            width = max(len(code) for code in report.by_rule)
            for code, ids in report.by_rule.items():
                self.stdout.write(
                    f"  {code.ljust(width)}  rejected {len(ids['rejected'])}  "
                    f"held {len(ids['held'])}  passing {len(ids['passing'])}"
                )
        self.stdout.write("Note: positions, open orders and prices are today's, not as they were.")
