"""Write the audit trail as JSON Lines (the contract in docs/audit-format.md)."""

import os

from django.core.management.base import BaseCommand

from apps.audit.selectors import audit_export_lines
from apps.audit.sequencer import audit_sequence, head_seq
from apps.audit.services import audit_read_record
from apps.core.context import acting_as_system


class Command(BaseCommand):
    help = "Export the audit trail as JSON Lines, one event per line, in sequence order."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="File to write ('-' for stdout).")

    def handle(self, *args, out: str, **options):
        with acting_as_system("command:export_audit"):
            # The export is itself an access to the records, and it includes its own event.
            audit_read_record(
                action="export", via="command", target="file" if out != "-" else "stdout"
            )
        # Its own event is sequenced once the sequencer's lock is ours; the export ends there.
        audit_sequence(wait=True)
        up_to = head_seq()
        count = 0
        if out == "-":
            for line in audit_export_lines(up_to=up_to):
                self.stdout.write(line, ending="")
                count += 1
            return
        tmp = f"{out}.partial"
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for line in audit_export_lines(up_to=up_to):
                fh.write(line)
                count += 1
        os.replace(tmp, out)
        self.stderr.write(f"exported {count} events to {out}")
