"""An example strategy loop with the pre-trade gate as the first step of every cycle.

    COMPLIANCE_URL=http://127.0.0.1:8000 COMPLIANCE_TOKEN=... python docs/examples/strategy_loop.py

Each cycle: look once at the orders held for approval earlier (one request each, never
waiting), then put the cycle's new orders through the gate. An accepted order goes to market;
a rejected one (a rule failed, or the gate could not answer: fail closed) stops there; a held
one is kept and goes to market only if a compliance officer approves it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from decimal import Decimal

from compliance_client import ComplianceClient, Order, PendingOrder


def signals(client: ComplianceClient, cycle: int) -> list[Order]:
    """Stand-in for the strategy: a small buy of the demo's round-the-clock pair, priced at
    its reference price, and every third cycle a large one (held for approval in the demo)."""
    [pair] = client.instruments(symbol="BTC-USD")
    price = pair.reference_price.quantize(pair.tick_size)
    size = Decimal("2") if cycle % 3 == 2 else Decimal("0.01")
    metadata = {"strategy": "example-loop", "signal_id": f"sig-{cycle}", "decision": "enter_long"}
    return [Order("ACC-001", "BTC-USD", "buy", size, price, metadata=metadata)]


def run_cycle(
    client: ComplianceClient,
    orders: list[Order],
    pending: list[PendingOrder],
    send: Callable[[Order], None],
) -> None:
    for handle in list(pending):
        outcome = handle.poll()
        if outcome is None:
            continue  # still waiting for an officer: look again next cycle
        pending.remove(handle)
        if outcome.approved:
            send(handle.order)

    for order in orders:
        gated = client.gate(order)
        if gated is None:
            continue  # rejected: the reason was logged by the client (on_reject)
        if isinstance(gated, PendingOrder):
            pending.append(gated)
            continue
        send(gated)


def main(cycles: int = 10, interval: float = 1.0) -> None:
    logging.basicConfig(level=logging.INFO)
    client = ComplianceClient(
        os.environ["COMPLIANCE_URL"], os.environ["COMPLIANCE_TOKEN"], timeout=0.5, retries=1
    )

    def send(order: Order) -> None:  # your OMS or exchange connection
        print(f"to market: {order.side} {order.quantity} {order.instrument} @ {order.limit_price}")

    pending: list[PendingOrder] = []
    with client:
        for cycle in range(cycles):
            run_cycle(client, signals(client, cycle), pending, send)
            time.sleep(interval)
    print(f"{len(pending)} order(s) still waiting for approval")


if __name__ == "__main__":
    main()
