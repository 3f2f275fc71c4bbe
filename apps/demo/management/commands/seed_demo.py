"""Demo data: users of every role (and the `feed` service identity), accounts and who is
entitled to them, instruments, prices, and the demo rule set.

Idempotent: running it again changes nothing that is already there (it resets the demo users'
passwords and roles, and adds price history for days that have passed since). It lives in the
demo app, above every domain app, because it loads them all; no domain app imports it.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.demo.reference import (
    DEFAULT_PASSWORD,
    DEMO_USERS,
    seed_accounts,
    seed_entitlements,
    seed_fx_rates,
    seed_instruments,
    seed_prices,
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
            default=DEFAULT_PASSWORD,
            help=f"Password of every demo user (default {DEFAULT_PASSWORD}).",
        )
        parser.add_argument(
            "--no-history", action="store_true", help="Skip the daily price history (faster)."
        )

    def handle(self, *args, password: str, no_history: bool, **options):
        with transaction.atomic():
            seed_users(password)
            seed_accounts()
            seed_entitlements()
            instruments = seed_instruments()
            seed_prices(instruments, history=not no_history)
            seed_fx_rates()
            seed_rules()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Demo logins (password: {password}):")
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:<12} {role.group_name}")
