"""Reads of the kill switch."""

from django.db.models import QuerySet

from apps.killswitch.models import KillSwitch


def kill_switch_list(*, active: bool | None = None) -> QuerySet[KillSwitch]:
    """Every switch, active ones first, then the most recent.

    No acting user: every role sees every switch (what is stopped and why is firm-wide
    information, and a trader needs it to understand a rejection)."""
    rows = KillSwitch.objects.select_related("activated_by", "deactivated_by").order_by(
        "-is_active", "-activated_at", "-id"
    )
    if active is not None:
        rows = rows.filter(is_active=active)
    return rows
