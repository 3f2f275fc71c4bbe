"""Verify the audit chain: exit 0 with a summary, or exit 1 naming the first broken sequence."""

from django.core.management.base import BaseCommand

from apps.audit.selectors import audit_verify


class Command(BaseCommand):
    help = "Verify the hash chain and the latest signed checkpoint. Exit 1 when broken."

    def handle(self, *args, **options):
        result = audit_verify()
        if result.ok:
            self.stdout.write(result.summary())
            return
        self.stderr.write(result.summary())
        raise SystemExit(1)
