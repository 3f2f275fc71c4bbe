"""The event stream the detectors read: order and fill events, in the order they committed.

The stream is the audit trail. Its sequence numbers are handed out under the chain head's lock
and that lock is held until the transaction commits, so sequence order is commit order: a
watermark on the sequence never skips an event that commits late. Each trading event becomes
one compact `Event` here; the detectors see nothing else, so they run the same on the database's
events and on synthetic ones (bench/surveillance.py). The payload keys of trading's events are
trading's (`apps.trading.trail`, beside the code that writes them).

An event's `side` is the direction, `buy` or `sell`: a short sale sells like a long one, so
the detectors compare sides without knowing how a sale was marked (the order keeps that).
"""

import json
from datetime import datetime
from decimal import Decimal

from apps.audit.events import EventType
from apps.trading import trail
from apps.trading.models import side_direction
from apps.trading.trail import FillKey, OrderKey, PositionKey

# Kinds of event the detectors subscribe to.
NEW = "new"  # the gate accepted the order or held it for approval
REJECT = "reject"  # the gate rejected it at submission
DENY = "deny"  # rejected after being held (approval denied or refused)
ACCEPT = "accept"  # a held order approved
CANCEL = "cancel"
EXPIRE = "expire"
AMEND = "amend"
FILL = "fill"
POSITION = "position"  # the position after a fill
EXEC = "exec"  # a drop copy from the venue or broker

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

    def __repr__(self) -> str:
        return f"Event(#{self.seq} {self.kind} {self.account} {self.instrument} {self.side})"


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _order_event(seq: int, ts: float, kind: str, object_id: str, payload: dict, owners) -> Event:
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
    )


def event_from_record(seq: int, event_type: str, record: str, owners: dict) -> Event | None:
    """The stream event of one audit record (its canonical JSON), or None if it is not one.

    `owners` maps account codes to beneficial owners (accounts of one owner count as one)."""
    body = json.loads(record)
    payload = body["payload"]
    ts = _ts(body["occurred_at"])
    object_id = body.get("object_id") or "0"
    if event_type == EventType.ORDER_SUBMITTED:
        return _order_event(seq, ts, NEW, object_id, payload, owners)
    if event_type == EventType.ORDER_REJECTED:
        kind = DENY if trail.PREVIOUS_STATUS in payload else REJECT
        return _order_event(seq, ts, kind, object_id, payload, owners)
    if event_type == EventType.ORDER_ACCEPTED:
        return _order_event(seq, ts, ACCEPT, object_id, payload, owners)
    if event_type == EventType.ORDER_CANCELED:
        return _order_event(seq, ts, CANCEL, object_id, payload, owners)
    if event_type == EventType.ORDER_EXPIRED:
        return _order_event(seq, ts, EXPIRE, object_id, payload, owners)
    if event_type == EventType.ORDER_AMENDED:
        return _order_event(seq, ts, AMEND, object_id, payload, owners)
    if event_type == EventType.ORDER_FILLED:
        event = _order_event(seq, ts, FILL, object_id, payload, owners)
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
