"""Record an FX rate from the command line (a nightly fixing job, an operator at a console).

    python manage.py record_fx_rate EUR USD 1.085 [--as-of 2026-11-20T16:00:00Z] [--source ecb]

The same service as the API and the admin: validated (ISO 4217 codes, a positive rate, a time
not in the future) and audited; a bad value stores nothing and exits with an error.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from apps.core.context import acting_as_system
from apps.core.errors import ValidationFailed
from apps.trading.services import fx_rate_record


class Command(BaseCommand):
    help = "Record an exchange rate: one BASE buys RATE of QUOTE (EUR USD 1.085)."

    def add_arguments(self, parser):
        parser.add_argument("base", help="ISO 4217 code of the currency priced, e.g. EUR.")
        parser.add_argument("quote", help="ISO 4217 code it is priced in, e.g. USD.")
        parser.add_argument("rate", help="How many QUOTE one BASE buys, a decimal.")
        parser.add_argument("--as-of", help="When it was fixed (ISO 8601 with a zone); now.")
        parser.add_argument("--source", default="command", help="Where it comes from.")

    def handle(self, *args, base: str, quote: str, rate: str, as_of, source: str, **options):
        when = None
        if as_of:
            when = parse_datetime(as_of)
            if when is None:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 time.")
        try:
            with acting_as_system("command:record_fx_rate"):
                row = fx_rate_record(base=base, quote=quote, rate=rate, as_of=when, source=source)
        except ValidationFailed as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())
            raise CommandError(f"Not recorded: {problems or exc.message}") from None
        self.stdout.write(f"Recorded {row}.")
