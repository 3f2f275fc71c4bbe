"""Each platform operation, described once: method, path, body, retry safety, how to read the
answer. The sync and async clients only send these; neither repeats the API's shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from compliance_client.models import (
    AmendResult,
    Amount,
    Decision,
    FillResult,
    Instrument,
    KillSwitch,
    Order,
    OrderInfo,
    Position,
    decimal_str,
    to_decimal,
)

T = TypeVar("T")

API = "/api/v1"
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any, int], T]
    body: Any = None
    params: dict[str, Any] | None = None
    # Safe to send again after a request that may have reached the server (a read timeout, a
    # dropped connection): reads, the dry run, and a submit (the platform makes the same
    # client_order_id idempotent). Everything may be retried when it was never sent.
    idempotent: bool = False
    # A list: follow the pages' `next` links and gather `results`.
    paged: bool = False


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def submit(order: Order) -> Call[Decision]:
    return Call(
        "POST",
        f"{API}/orders/",
        lambda body, status: Decision.from_json(body, replayed=status == 200),
        body=order.to_json(),
        idempotent=True,
    )


def submit_basket(orders: Sequence[Order]) -> Call[list[Decision]]:
    orders = list(orders)
    if not orders:
        raise ValueError("submit_basket: give at least one order")
    seen: set[str] = set()
    for index, order in enumerate(orders):
        if order.client_order_id in seen:
            raise ValueError(
                f"orders[{index}]: client_order_id {order.client_order_id!r} is already in the "
                "basket; each order has its own"
            )
        seen.add(order.client_order_id)

    def parse(body: Any, status: int) -> list[Decision]:
        answers = body["orders"]
        if not isinstance(answers, list) or len(answers) != len(orders):
            raise ValueError(f"{len(orders)} orders sent, not as many decisions back")
        decisions = [Decision.from_json(a, replayed=status == 200) for a in answers]
        for order, decision in zip(orders, decisions, strict=True):
            if decision.client_order_id != order.client_order_id:
                raise ValueError(f"a decision for {decision.client_order_id!r} out of order")
        return decisions

    # Safe to send again: each order is idempotent by its client_order_id, so a repeat of the
    # basket answers each order's first decision and stores nothing twice.
    return Call(
        "POST",
        f"{API}/orders/basket/",
        parse,
        body={"orders": [o.to_json() for o in orders]},
        idempotent=True,
    )


def check(order: Order) -> Call[Decision]:
    return Call(
        "POST",
        f"{API}/pretrade/check/",
        lambda body, _status: Decision.from_json(body),
        body=order.to_json(),
        idempotent=True,
    )


def order(order_id: int) -> Call[OrderInfo]:
    return Call(
        "GET",
        f"{API}/orders/{int(order_id)}/",
        lambda body, _s: OrderInfo.from_json(body),
        idempotent=True,
    )


def orders(
    *,
    account: str | None = None,
    instrument: str | None = None,
    status: str | list[str] | None = None,
    date: str | None = None,
    limit: int = 100,
) -> Call[list[OrderInfo]]:
    return Call(
        "GET",
        f"{API}/orders/",
        lambda body, _s: [OrderInfo.from_json(o) for o in body["results"]],
        params=_params(
            account=account, instrument=instrument, status=status, date=date, limit=limit
        ),
        idempotent=True,
    )


def fill(
    order_id: int,
    *,
    exec_id: str,
    quantity: Amount,
    price: Amount,
    venue: str,
    executed_at: datetime,
    liquidity: str,
    commission: Amount | None = None,
) -> Call[FillResult]:
    if executed_at.tzinfo is None:
        raise ValueError("executed_at: give a timezone-aware time")
    body: dict[str, Any] = {
        "exec_id": exec_id,
        "quantity": decimal_str(to_decimal(quantity, "quantity")),
        "price": decimal_str(to_decimal(price, "price")),
        "venue": venue,
        "executed_at": executed_at.isoformat(),
        "liquidity": liquidity,
    }
    if commission is not None:
        body["commission"] = decimal_str(to_decimal(commission, "commission"))
    # Not retried once sent: a repeat is refused (409 duplicate_exec_id), which also tells
    # the caller that the first one was recorded.
    return Call(
        "POST",
        f"{API}/orders/{int(order_id)}/fills/",
        lambda b, _s: FillResult.from_json(b),
        body=body,
    )


def cancel(order_id: int) -> Call[OrderInfo]:
    return Call(
        "POST",
        f"{API}/orders/{int(order_id)}/cancel/",
        lambda b, _s: OrderInfo.from_json(b),
        body={},
    )


def amend(
    order_id: int, *, quantity: Amount | None = None, limit_price: Amount | None = None
) -> Call[AmendResult]:
    body = _params(
        quantity=decimal_str(to_decimal(quantity, "quantity")),
        limit_price=decimal_str(to_decimal(limit_price, "limit_price")),
    )
    if not body:
        raise ValueError("amend: give quantity, limit_price or both")
    return Call(
        "POST",
        f"{API}/orders/{int(order_id)}/amend/",
        lambda b, _s: AmendResult.from_json(b),
        body=body,
    )


def positions(
    *, account: str | None = None, instrument: str | None = None, nonzero: bool | None = None
) -> Call[list[Position]]:
    return Call(
        "GET",
        f"{API}/positions/",
        lambda rows, _s: [Position.from_json(p) for p in rows],
        params=_params(
            account=account,
            instrument=instrument,
            nonzero=None if nonzero is None else str(nonzero).lower(),
            limit=PAGE_SIZE,
        ),
        idempotent=True,
        paged=True,
    )


def instruments(
    *, symbol: str | None = None, asset_class: str | None = None
) -> Call[list[Instrument]]:
    return Call(
        "GET",
        f"{API}/instruments/",
        lambda rows, _s: [Instrument.from_json(i) for i in rows],
        params=_params(symbol=symbol, asset_class=asset_class, limit=PAGE_SIZE),
        idempotent=True,
        paged=True,
    )


def kill_switches(*, active: bool | None = None) -> Call[list[KillSwitch]]:
    return Call(
        "GET",
        f"{API}/kill-switch/",
        lambda rows, _s: [KillSwitch.from_json(k) for k in rows],
        params=_params(active=None if active is None else str(active).lower(), limit=PAGE_SIZE),
        idempotent=True,
        paged=True,
    )


def kill_switch_activate(
    *, scope: str, state: str, reason: str, target: str = "", cancel_working: bool = False
) -> Call[KillSwitch]:
    body = {
        "scope": scope,
        "target": target,
        "state": state,
        "reason": reason,
        "cancel_working": cancel_working,
    }
    return Call("POST", f"{API}/kill-switch/", lambda b, _s: KillSwitch.from_json(b), body=body)


def kill_switch_deactivate(switch_id: int, *, comment: str = "") -> Call[KillSwitch]:
    return Call(
        "POST",
        f"{API}/kill-switch/{int(switch_id)}/deactivate/",
        lambda b, _s: KillSwitch.from_json(b),
        body={"comment": comment},
    )


def token(
    username: str, password: str, name: str = "compliance-client", otp: str | None = None
) -> Call[str]:
    body = {"username": username, "password": password, "name": name}
    if otp is not None:  # roles that need a second factor (MFA_REQUIRED_ROLES)
        body["otp"] = otp
    return Call("POST", f"{API}/auth/token/", lambda b, _s: str(b["token"]), body=body)


def me() -> Call[dict[str, str]]:
    return Call("GET", f"{API}/auth/me/", lambda b, _s: dict(b), idempotent=True)
