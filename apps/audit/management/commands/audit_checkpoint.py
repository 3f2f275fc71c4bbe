from django.core.management.base import BaseCommand

from apps.audit.services import checkpoint_create
from apps.core.context import acting_as_system


class Command(BaseCommand):
    help = "Sign a checkpoint (Merkle root) over every audit event so far."

    def handle(self, *args, **options):
        with acting_as_system("command:audit_checkpoint"):
            checkpoint = checkpoint_create()
        if checkpoint is None:
            self.stdout.write("No new events since the latest checkpoint.")
        else:
            self.stdout.write(f"Checkpoint at {checkpoint.tree_size}: {checkpoint.root_hash}")
