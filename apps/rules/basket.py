"""Baskets: many orders sent in one request, decided one after the other through the gate.

Each order goes through `gate.order_submit`, exactly as if it had been sent alone right after
the one before it: it takes its account's lock, reads the figures the earlier orders of the
basket have already moved (position, working exposure, open orders, message counts, day
counters, duplicates), and records its decision and audit events. All of it runs in one
transaction: the basket is stored whole or not at all.
"""

from django.db import transaction

from apps.core.errors import Conflict
from apps.rules import gate


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
