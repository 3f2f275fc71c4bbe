"""Upward hooks of the trading app (apps.core.hooks)."""

from typing import Any

from apps.core.hooks import hook
from apps.trading.models import Order


@hook(filled_by="apps.approvals")
def held_order_ended(*, order: Order, actor: Any, reason: str) -> object:
    """A held order left `pending_approval` (canceled, expired, rejected or accepted, by any
    path): close its approval request if it is still pending.

    Called inside the transaction that moves the order, so what it writes commits or rolls back
    with it. The approvals app fills it with `approval_close_for_order`; its own decisions and
    expiries close the request before they move the order, so for them this does nothing.
    """
