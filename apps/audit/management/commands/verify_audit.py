"""Verify the audit chain: exit 0 with a summary, or exit 1 naming the first broken sequence.

Without options it checks the stored trail, against the witness when AUDIT_WITNESS_DIR (or
--witness DIR) is set. With --export FILE it checks a JSON Lines export the way an outside
auditor would (optionally against a checkpoint saved from the API, and against a witness
directory, which it must then reach to the last witnessed checkpoint; --as-of TREE_SIZE holds an
older export to the witness as of the tree size it was taken at instead). --public-key FILE
(repeatable) and --keyring FILE pin the keys every signature must be made with; the key a
checkpoint names is never trusted on its own, its key id only selects among the pinned keys.
--max-unsigned-seconds bounds how long an event may wait for a signed (with a witness:
witnessed) checkpoint.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.audit.canonical import parse_strict
from apps.audit.keyring import load_keyring
from apps.audit.selectors import audit_verify, verify_export
from apps.audit.services import audit_read_record
from apps.audit.signing import load_public_key
from apps.audit.witness import WitnessError, witness_read
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
            help="The witness directory to hold the trail (or --export) to (default for the "
            "stored trail: AUDIT_WITNESS_DIR).",
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            type=int,
            default=None,
            metavar="TREE_SIZE",
            help="With --export and --witness: hold an older export to the witness as of this "
            "tree size (the size it was taken at, known from outside the export): the export "
            "must reach it, and checkpoints witnessed past it are not required. Without it the "
            "export must reach the last witnessed checkpoint.",
        )
        parser.add_argument(
            "--public-key",
            dest="public_key",
            action="append",
            default=[],
            help="An Ed25519 public key (PEM, or 64 hex digits) signatures may be made with; "
            "give it once per key.",
        )
        parser.add_argument(
            "--keyring",
            action="append",
            default=[],
            help="A file of pinned public keys (PEM blocks, or one 64-hex-digit key a line).",
        )
        parser.add_argument(
            "--max-unsigned-seconds",
            dest="max_unsigned_seconds",
            type=int,
            default=None,
            help="Fail when an event has waited longer than this for a signed (with a witness: "
            "witnessed) checkpoint (default: AUDIT_MAX_UNSIGNED_SECONDS, 300; 0 or less: no "
            "bound). Not applied to --export.",
        )

    def handle(
        self,
        *args,
        export: str | None,
        checkpoint: str | None,
        witness: str | None,
        public_key: list[str],
        keyring: list[str],
        max_unsigned_seconds: int | None,
        as_of: int | None = None,
        **options,
    ):
        if checkpoint and not export:
            raise CommandError("--checkpoint goes with --export.")
        if as_of is not None and not (export and witness):
            raise CommandError("--as-of goes with --export and --witness.")
        if as_of is not None and as_of < 1:
            raise CommandError("--as-of takes a tree size of 1 or more.")
        pinned: list[bytes] = []
        try:
            for path in public_key:
                pinned.append(load_public_key(path))
            for path in keyring:
                pinned.extend(load_keyring(path))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the public key: {exc}") from None
        if max_unsigned_seconds is None:
            max_unsigned_seconds = settings.AUDIT_MAX_UNSIGNED_SECONDS
        bound = max_unsigned_seconds if max_unsigned_seconds > 0 else None
        if export:
            try:
                saved = None
                if checkpoint:
                    with open(checkpoint, encoding="utf-8") as fh:
                        saved = parse_strict(fh.read())
                witnessed = witness_read(witness) if witness else None
                with open(export, "rb") as first:
                    first.read(1)  # fail early, with a clear message, when it cannot be read

                def open_lines():
                    # bytes: a line that is not UTF-8 is then a broken line, named by number
                    with open(export, "rb") as lines:
                        yield from lines

                result = verify_export(
                    open_lines,
                    checkpoint=saved,
                    public_keys=pinned or None,
                    witness=witnessed,
                    as_of=as_of,
                )
            except WitnessError as exc:
                raise CommandError(f"Cannot read the witness: {exc}") from None
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"Cannot read the files: {exc}") from None
        else:
            try:
                result = audit_verify(
                    witness_dir=witness,
                    public_keys=pinned or None,
                    max_unsigned_seconds=bound,
                )
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
            held = f"; held to the witness as of tree size {as_of}" if as_of is not None else ""
            self.stdout.write(result.summary() + held)
            return
        self.stderr.write(result.summary())
        raise SystemExit(1)
