"""One expiry pass: every working order whose expire_at has passed (what the beat job runs)."""

from django.core.management.base import BaseCommand

from apps.core.context import acting_as_system
from apps.trading.services import order_expire_due


class Command(BaseCommand):
    help = "Expire every working order past its expire_at (day, ioc, fok and gtd orders)."

    def handle(self, *args, **options):
        with acting_as_system("command:expire_orders"):
            expired = order_expire_due()
        self.stdout.write(f"expire_orders: {expired} order(s) expired")
