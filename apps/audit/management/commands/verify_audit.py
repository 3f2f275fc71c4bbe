"""Verify the audit chain: exit 0 with a summary, or exit 1 naming the first broken sequence.

Without options it checks the stored trail, against the witness when AUDIT_WITNESS_DIR (or
--witness DIR) is set. With --export FILE it checks a JSON Lines export the way an outside
auditor would (optionally against a checkpoint saved from the API). --public-key FILE pins the
key every signature must be made with; the key a checkpoint names is never trusted on its own.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.audit.selectors import audit_verify, verify_export
from apps.audit.services import audit_read_record
from apps.audit.signing import load_public_key
from apps.audit.witness import WitnessError
from apps.core.context import acting_as_system


class Command(BaseCommand):
    help = "Verify the hash chain and the signed checkpoints (and witness). Exit 1 when broken."

    def add_arguments(self, parser):
        parser.add_argument("--export", help="Verify this JSON Lines export instead.")
        parser.add_argument(
            "--checkpoint", help="With --export: a checkpoint JSON from the API to check."
        )
        parser.add_argument(
            "--witness",
            help="The witness directory to hold the database to (default: AUDIT_WITNESS_DIR).",
        )
        parser.add_argument(
            "--public-key",
            dest="public_key",
            help="The Ed25519 public key (PEM, or 64 hex digits) every signature must be made "
            "with.",
        )

    def handle(
        self,
        *args,
        export: str | None,
        checkpoint: str | None,
        witness: str | None,
        public_key: str | None,
        **options,
    ):
        if checkpoint and not export:
            raise CommandError("--checkpoint goes with --export.")
        if witness and export:
            raise CommandError("--witness checks the stored trail, not an export.")
        pinned = None
        if public_key:
            try:
                pinned = load_public_key(public_key)
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read the public key: {exc}") from None
        if export:
            try:
                saved = None
                if checkpoint:
                    with open(checkpoint, encoding="utf-8") as fh:
                        saved = json.load(fh)
                with open(export, encoding="utf-8") as first:
                    first.read(1)  # fail early, with a clear message, when it cannot be read

                def open_lines():
                    with open(export, encoding="utf-8") as lines:
                        yield from lines

                result = verify_export(open_lines, checkpoint=saved, public_key=pinned)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"Cannot read the files: {exc}") from None
        else:
            try:
                result = audit_verify(witness_dir=witness, public_key=pinned)
            except (OSError, WitnessError) as exc:
                raise CommandError(f"Cannot read the witness: {exc}") from None
            try:
                with acting_as_system("command:verify_audit"):
                    audit_read_record(
                        action="verify",
                        via="command",
                        ok=result.ok,
                        first_bad_seq=result.first_bad_seq,
                        count=result.events_checked,
                        first_seq=result.first_seq,
                        last_seq=result.last_seq,
                    )
            except DatabaseError as exc:
                # A tampered table may refuse the append (a forged row where the next event
                # goes); the verdict is what matters here, so report it all the same.
                self.stderr.write(f"this verification could not be recorded: {exc}")
        if result.ok:
            self.stdout.write(result.summary())
            return
        self.stderr.write(result.summary())
        raise SystemExit(1)
