from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import audit_purge
from apps.core.context import acting_as_system
from apps.core.errors import PermissionDenied


class Command(BaseCommand):
    help = "Purge audit events past their retention period. Only an Admin may run it."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The Admin running the purge.")

    def handle(self, *args, user: str, **options):
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"No active user {user!r}.")
        try:
            with acting_as_system("command:purge_audit"):
                result = audit_purge(actor=account)
        except PermissionDenied as exc:
            raise CommandError(exc.message) from None
        if not result.count:
            self.stdout.write("Nothing is past its retention period.")
        else:
            self.stdout.write(
                f"Purged {result.count} events ({result.purged_from}..{result.purged_to}); "
                f"the chain continues from {result.anchor_hash}."
            )
