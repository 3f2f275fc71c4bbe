"""Upward hooks of the trading app (apps.core.hooks)."""

from typing import Any

from apps.core.hooks import hook
from apps.trading.models import Fill, Order


@hook(filled_by="apps.approvals")
def held_order_ended(*, order: Order, actor: Any, reason: str) -> object:
    """A held order left `pending_approval` (canceled, expired, rejected or accepted, by any
    path): close its approval request if it is still pending.

    Called inside the transaction that moves the order, so what it writes commits or rolls back
    with it. The approvals app fills it with `approval_close_for_order`; its own decisions and
    expiries close the request before they move the order, so for them this does nothing.
    """


@hook(filled_by="apps.reporting")
def fill_booked(*, fill: Fill, actor: Any) -> object:
    """A fill was booked: every report already built whose period it lands in (the day it was
    executed, UTC; for reports built from every fill up to their period's end, such as
    positions, any period ending on or after that day) is marked for a re-run, audited.

    Called inside the transaction that books the fill, so the mark commits or rolls back with
    it, before the fill's own audit events (report rows are locked before the audit chain's
    head, as report filing takes them). The reporting app fills it with
    `report_mark_for_rerun`.
    """


@hook(filled_by="apps.reporting")
def fill_changed(*, fill: Fill, actor: Any, change: str) -> object:
    """A booked fill was corrected or busted (`change`: "corrected" or "busted"): every report
    already built whose period it lands in is marked for a re-run, as for `fill_booked`.

    Called inside the transaction that changes the fill, before its own audit events."""
