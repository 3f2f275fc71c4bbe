from django.core.management.base import BaseCommand, CommandError

from apps.audit import signing
from apps.audit.services import audit_key_rotate
from apps.core.context import acting_as_system
from apps.core.errors import ValidationFailed


class Command(BaseCommand):
    help = (
        "Hand checkpoint signing over to a new Ed25519 key: sign a checkpoint, with the current "
        "key and the new one, that announces it. Then configure the new key and restart."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-key-file",
            required=True,
            help="The new private key (PEM, PKCS8, unencrypted), as AUDIT_SIGNING_KEY_FILE "
            "will name it.",
        )

    def handle(self, *args, new_key_file: str, **options):
        try:
            new_key = signing.load_private_key(new_key_file)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the new key: {exc}") from None
        try:
            with acting_as_system("command:rotate_audit_key"):
                checkpoint = audit_key_rotate(actor="command:rotate_audit_key", new_key=new_key)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        rotation = checkpoint.rotation
        self.stdout.write(
            f"Checkpoint at {checkpoint.tree_size} hands over from key id {checkpoint.key_id} to "
            f"key id {signing.key_id_of(bytes.fromhex(rotation['to']))} "
            f"(public key {rotation['to']}).\n"
            "The old key signs nothing more: set AUDIT_SIGNING_KEY_FILE to the new key and "
            "restart the workers now."
        )
