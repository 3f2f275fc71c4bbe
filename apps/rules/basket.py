"""Baskets: many orders sent in one request, decided one after the other through the gate.

Each order goes through `gate.order_submit`, exactly as if it had been sent alone right after
the one before it: it takes its account's lock, reads the figures the earlier orders of the
basket have already moved (position, working exposure, open orders, message counts, day
counters, duplicates), and records its decision and audit events. All of it runs in one
transaction: the basket is stored whole or not at all. The accounts of a basket of several are
locked together first, in one order, so that two baskets never wait on each other in a circle.
"""

from django.db import transaction

from apps.core.errors import Conflict
from apps.rules import gate
from apps.trading.models import Account


def basket_key(index: int, field: str | None = None) -> str:
    """How an error names an order of the basket (and one of its fields): `orders[3].quantity`."""
    return f"orders[{index}]" + (f".{field}" if field else "")


def order_basket_submit(*, reqs: list[gate.OrderRequest], user) -> list[gate.GateAnswer]:
    """Decide and record every order of the basket in order, in one transaction; the answers
    in the same order. An order already stored with the same body answers its stored decision
    (a replay, as for one order). A client_order_id already used with another body is a 409
    for the whole basket, naming the order; nothing of the basket is stored then. A database
    error rolls the whole basket back (503 at the API)."""
    answers = []
    with transaction.atomic():
        _lock_accounts(reqs)
        for index, req in enumerate(reqs):
            try:
                answers.append(gate.order_submit(req=req, user=user))
            except Conflict as exc:
                raise Conflict(
                    f"{basket_key(index)}: {exc.message} Nothing of the basket was stored.",
                    code=exc.code,
                    details={"index": index, **exc.details},
                ) from exc
    return answers


def _lock_accounts(reqs: list[gate.OrderRequest]) -> None:
    """Take the locks of every account of the basket at once, in id order, before the first
    order. The gate locks each order's account as it comes to it; a basket that took them in
    its own order could deadlock with another basket taking the same accounts the other way
    round. One account needs nothing: the gate's own lock is the first."""
    ids = sorted({req.account.pk for req in reqs})
    if len(ids) > 1:
        list(
            Account.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
