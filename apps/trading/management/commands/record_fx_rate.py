"""Record an FX rate from the command line (a nightly fixing job, an operator at a console).

    python manage.py record_fx_rate EUR USD 1.085 [--as-of 2026-11-20T16:00:00Z] [--source ecb]
    python manage.py record_fx_rate EUR USD 1.085 --proposed-by alice

Without `--proposed-by` it is the firm's own feed (a fixing job on the server, acting as the
system): the rate is recorded at once, as market data. With it, the rate is typed in by a
person and is a configuration change like one typed in the admin or posted to the API:
proposed as that user, recorded when another Risk Manager approves it. Either way validated
(ISO 4217 codes, a positive rate, a time not in the future) and audited; a bad value stores
nothing and exits with an error.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from apps.changes.services import config_change_propose
from apps.core.context import acting_as_system
from apps.core.errors import PlatformError, ValidationFailed
from apps.trading.services import fx_rate_record


class Command(BaseCommand):
    help = "Record an exchange rate: one BASE buys RATE of QUOTE (EUR USD 1.085)."

    def add_arguments(self, parser):
        parser.add_argument("base", help="ISO 4217 code of the currency priced, e.g. EUR.")
        parser.add_argument("quote", help="ISO 4217 code it is priced in, e.g. USD.")
        parser.add_argument("rate", help="How many QUOTE one BASE buys, a decimal.")
        parser.add_argument("--as-of", help="When it was fixed (ISO 8601 with a zone); now.")
        parser.add_argument("--source", default="command", help="Where it comes from.")
        parser.add_argument(
            "--proposed-by",
            metavar="USERNAME",
            help="Propose the rate as this user (a Risk Manager); another approves it.",
        )

    def handle(self, *args, base: str, quote: str, rate: str, as_of, source: str, **options):
        when = None
        if as_of:
            when = parse_datetime(as_of)
            if when is None:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 time.")
        if options.get("proposed_by"):
            self._propose(base, quote, rate, when, source, options["proposed_by"])
            return
        try:
            with acting_as_system("command:record_fx_rate"):
                row = fx_rate_record(base=base, quote=quote, rate=rate, as_of=when, source=source)
        except ValidationFailed as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())
            raise CommandError(f"Not recorded: {problems or exc.message}") from None
        self.stdout.write(f"Recorded {row}.")

    def _propose(self, base, quote, rate, when, source, username) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--proposed-by: no active user {username!r}.")
        values = {"rate": rate, "source": source}
        if when is not None:
            values["as_of"] = when
        try:
            change = config_change_propose(
                kind="fx_rate", target=f"{base}/{quote}", values=values, actor=user
            )
        except ValidationFailed as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())
            raise CommandError(f"Not proposed: {problems or exc.message}") from None
        except PlatformError as exc:  # a role that may not propose rates, say
            raise CommandError(f"Not proposed: {exc.message}") from None
        self.stdout.write(
            f"Proposed {base}/{quote} {rate} as change #{change.pk}: recorded when another "
            "Risk Manager approves it."
        )
