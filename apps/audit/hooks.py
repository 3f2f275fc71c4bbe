"""Upward hooks of the audit app (apps.core.hooks)."""

from apps.core.hooks import hook


@hook(filled_by="apps.notifications")
def checkpoint_witness_send(*, line: dict) -> int:
    """Send a witness line (a signed checkpoint, as docs/audit-format.md "The witness" gives it)
    to the further witnesses the settings name: email to AUDIT_WITNESS_EMAILS (the compliance
    mailbox) and a signed webhook to AUDIT_WITNESS_WEBHOOK_URL. Called once the checkpoint has
    committed; returns how many deliveries were queued. Notifications fills it.
    """
