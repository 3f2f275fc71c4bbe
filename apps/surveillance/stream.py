"""The event stream the detectors read: order and fill events, in the order they committed.

The stream is the audit trail. Its sequence numbers are handed out under the chain head's lock
and that lock is held until the transaction commits, so sequence order is commit order: a
watermark on the sequence never skips an event that commits late. Each trading event becomes
one compact `Event` here; the detectors see nothing else, so they run the same on the database's
events and on synthetic ones (bench/surveillance.py). The payload keys of trading's events are
trading's (`apps.trading.trail`, beside the code that writes them).

A held order (pending approval) never reached the market while it waited: it enters the
stream as `HELD`, not `NEW`, and as `NEW` only when it is released (approved), at the time of
release. A held order withdrawn or denied before release was never an order at market, so the
detectors that read `NEW` never see it.

An event's `side` is the direction, `buy` or `sell`: a short sale sells like a long one, so
the detectors compare sides without knowing how a sale was marked (the order keeps that).
"""

import json
from datetime import datetime
from decimal import Decimal

from apps.audit.events import EventType
from apps.trading import trail
from apps.trading.models import OrderStatus, side_direction
from apps.trading.trail import FillKey, OrderKey, PositionKey

# Kinds of event the detectors subscribe to.
NEW = "new"  # the order reached the market: accepted by the gate, or a held order released
HELD = "held"  # the gate held it for approval: not at market until released
REJECT = "reject"  # the gate rejected it at submission
DENY = "deny"  # rejected after being held (approval denied or refused)
ACCEPT = "accept"  # an order accepted again that was not held (a held one comes as NEW)
CANCEL = "cancel"
EXPIRE = "expire"
AMEND = "amend"
FILL = "fill"
POSITION = "position"  # the position after a fill
EXEC = "exec"  # a drop copy from the venue or broker

PENDING_APPROVAL = OrderStatus.PENDING_APPROVAL.value

STREAM_EVENT_TYPES = (
    EventType.ORDER_SUBMITTED,
    EventType.ORDER_REJECTED,
    EventType.ORDER_ACCEPTED,
    EventType.ORDER_CANCELED,
    EventType.ORDER_EXPIRED,
    EventType.ORDER_AMENDED,
    EventType.ORDER_FILLED,
    EventType.POSITION_CHANGED,
    EventType.EXECUTION_REPORTED,
)


class Event:
    """One order or fill event. `ts` is seconds since the epoch (UTC): the execution time for
    fills and drop copies, the time the platform recorded it for everything else."""

    __slots__ = (
        "seq",
        "ts",
        "kind",
        "order_id",
        "account",
        "owner",
        "instrument",
        "side",
        "quantity",
        "price",
        "reference_price",
        "filled",
        "fill_id",
        "extra",
        "user",
        "strategy",
    )

    def __init__(
        self,
        seq: int,
        ts: float,
        kind: str,
        order_id: int | None,
        account: str,
        owner: str,
        instrument: str,
        side: str = "",
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        reference_price: Decimal | None = None,
        filled: Decimal | None = None,
        fill_id: int | None = None,
        extra: dict | None = None,
        user: str = "",
        strategy: str = "",
    ):
        self.seq = seq
        self.ts = ts
        self.kind = kind
        self.order_id = order_id
        self.account = account
        self.owner = owner
        self.instrument = instrument
        self.side = side
        self.quantity = quantity
        self.price = price
        self.reference_price = reference_price
        self.filled = filled
        self.fill_id = fill_id
        self.extra = extra
        self.user = user  # who submitted the order (username), "" when not known
        self.strategy = strategy  # the order's metadata.strategy, "" when none

    def __repr__(self) -> str:
        return f"Event(#{self.seq} {self.kind} {self.account} {self.instrument} {self.side})"


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _user(order: dict, users) -> str:
    submitted_by = order.get(OrderKey.SUBMITTED_BY)
    if submitted_by is None:
        return ""
    return (users or {}).get(submitted_by) or f"user #{submitted_by}"


def _order_event(
    seq: int, ts: float, kind: str, object_id: str, payload: dict, owners, users=None
) -> Event:
    order = payload[trail.ORDER]
    account = order[OrderKey.ACCOUNT]
    return Event(
        seq,
        ts,
        kind,
        int(object_id),
        account,
        owners.get(account, account),
        order[OrderKey.INSTRUMENT],
        side_direction(order[OrderKey.SIDE]),
        Decimal(order[OrderKey.QUANTITY]),
        _dec(order.get(OrderKey.LIMIT_PRICE)),
        _dec(order.get(OrderKey.REFERENCE_PRICE)),
        Decimal(order.get(OrderKey.FILLED_QUANTITY) or "0"),
        user=_user(order, users),
        strategy=str(order.get(OrderKey.STRATEGY) or ""),
    )


def event_from_record(
    seq: int, event_type: str, record: str, owners: dict, users: dict | None = None
) -> Event | None:
    """The stream event of one audit record (its canonical JSON), or None if it is not one.

    `owners` maps account codes to beneficial owners (accounts of one owner count as one);
    `users` maps user ids to usernames (the trader who submitted an order)."""
    body = json.loads(record)
    payload = body["payload"]
    ts = _ts(body["occurred_at"])
    object_id = body.get("object_id") or "0"
    if event_type == EventType.ORDER_SUBMITTED:
        held = payload[trail.ORDER].get(OrderKey.STATUS) == PENDING_APPROVAL
        return _order_event(seq, ts, HELD if held else NEW, object_id, payload, owners, users)
    if event_type == EventType.ORDER_REJECTED:
        kind = DENY if trail.PREVIOUS_STATUS in payload else REJECT
        return _order_event(seq, ts, kind, object_id, payload, owners, users)
    if event_type == EventType.ORDER_ACCEPTED:
        released = payload.get(trail.PREVIOUS_STATUS) == PENDING_APPROVAL
        kind = NEW if released else ACCEPT
        return _order_event(seq, ts, kind, object_id, payload, owners, users)
    if event_type == EventType.ORDER_CANCELED:
        return _order_event(seq, ts, CANCEL, object_id, payload, owners, users)
    if event_type == EventType.ORDER_EXPIRED:
        return _order_event(seq, ts, EXPIRE, object_id, payload, owners, users)
    if event_type == EventType.ORDER_AMENDED:
        return _order_event(seq, ts, AMEND, object_id, payload, owners, users)
    if event_type == EventType.ORDER_FILLED:
        event = _order_event(seq, ts, FILL, object_id, payload, owners, users)
        fill = payload[trail.FILL]
        event.ts = _ts(fill[FillKey.EXECUTED_AT])
        event.quantity = Decimal(fill[FillKey.QUANTITY])
        event.price = Decimal(fill[FillKey.PRICE])
        event.fill_id = fill[FillKey.ID]
        return event
    if event_type == EventType.POSITION_CHANGED:
        account = payload[PositionKey.ACCOUNT]
        return Event(
            seq,
            ts,
            POSITION,
            None,
            account,
            owners.get(account, account),
            payload[PositionKey.INSTRUMENT],
            quantity=Decimal(payload[PositionKey.AFTER][PositionKey.QUANTITY]),
            fill_id=payload.get(PositionKey.FILL_ID),
        )
    if event_type == EventType.EXECUTION_REPORTED:
        account = payload["account"]
        return Event(
            seq,
            _ts(payload["executed_at"]),
            EXEC,
            payload.get("order_id"),
            account,
            owners.get(account, account),
            payload["instrument"],
            side_direction(payload["side"]),
            Decimal(payload["quantity"]),
            Decimal(payload["price"]),
            extra={
                "execution_id": int(object_id),
                "exec_id": payload["exec_id"],
                "client_order_id": payload["client_order_id"],
                "order_status": payload.get("order_status") or "",
                "order_quantity": _dec(payload.get("order_quantity")),
                "reported_total": Decimal(payload["reported_total"]),
            },
        )
    return None
