"""Demo data: users of every role (and the `feed` service identity), accounts and who is
entitled to them, instruments, prices, the last hour's market tape, and the demo rule set.

Idempotent: running it again creates only what is missing (and adds price history for days
that have passed since). An existing user's password, role and active flag are left as they
are, so that an installer who changed or deactivated a demo user keeps it that way; only
`--reset-users` puts the demo users back. With DEBUG off the password must be given: the
published default is for a developer's machine only. It lives in the demo app, above every
domain app, because it loads them all; no domain app imports it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.demo.market_tape import seed_market_tape
from apps.demo.reference import (
    DEFAULT_PASSWORD,
    DEMO_USERS,
    seed_accounts,
    seed_entitlements,
    seed_fx_rates,
    seed_instruments,
    seed_prices,
    seed_staff_identities,
    seed_users,
)
from apps.demo.rulebook import seed_rules


class Command(BaseCommand):
    help = (
        "Load idempotent demo data: users of every role, accounts, instruments, prices, FX "
        "rates and a rule set covering every rule type."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=None,
            help=f"Password of the demo users it creates (or resets); default {DEFAULT_PASSWORD} "
            "when DEBUG is on, required when it is off.",
        )
        parser.add_argument(
            "--reset-users",
            action="store_true",
            help="Also reset the existing demo users' passwords, roles and active flags.",
        )
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Skip the daily price history and the market tape (faster).",
        )

    def handle(self, *args, password: str | None, no_history: bool, reset_users: bool, **options):
        if password is None:
            if not settings.DEBUG:
                raise CommandError(
                    "DEBUG is off: give the demo users' password with --password (the published "
                    "default is for a developer's machine)."
                )
            password = DEFAULT_PASSWORD
        with transaction.atomic():
            touched = seed_users(password, reset=reset_users)
            seed_staff_identities()
            seed_accounts()
            seed_entitlements(touched)
            instruments = seed_instruments()
            seed_prices(instruments, history=not no_history)
            if not no_history:
                seed_market_tape(instruments.values())
            seed_fx_rates()
            seed_rules()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Demo logins (password: {password}):")
        for username, role in DEMO_USERS:
            note = "" if username in touched else "  (existing user: unchanged)"
            self.stdout.write(f"  {username:<12} {role.group_name}{note}")
