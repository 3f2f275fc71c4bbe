"""Upward hooks of the trading app (apps.core.hooks)."""

from typing import Any

from apps.core.hooks import hook
from apps.trading.models import Order


@hook(filled_by="apps.approvals")
def held_order_ended(*, order: Order, actor: Any, reason: str) -> object:
    """A held order (pending approval) was canceled: close its approval request.

    Called inside the transaction that ends the order, so what it writes commits or rolls back
    with it. The approvals app fills it with `approval_close_for_order`.
    """
