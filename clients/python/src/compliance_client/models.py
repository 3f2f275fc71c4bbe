"""What goes to the platform and what comes back, as typed values.

Amounts are `Decimal` (the platform sends and takes decimal strings; a float is refused here, as
the platform refuses it), times are timezone-aware UTC `datetime`s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

SIDES = ("buy", "sell", "sell_short", "sell_short_exempt")
ORDER_TYPES = ("limit", "market")
# day: until its venue's session close; ioc/fok: expired just after the gate when unfilled;
# gtd: until its `expire_at`; gtc: until canceled.
TIMES_IN_FORCE = ("day", "gtc", "ioc", "fok", "gtd")
APPROVAL_OUTCOMES = ("approved", "denied", "expired", "canceled")
ORDER_STATUSES = (
    "accepted",
    "rejected",
    "pending_approval",
    "partially_filled",
    "filled",
    "canceled",
    "expired",
)

Amount = Decimal | int | str


def new_client_order_id(prefix: str = "cc") -> str:
    """A fresh id for an order: kept on the `Order`, so every retry sends the same one."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def to_decimal(value: Amount | None, name: str = "amount") -> Decimal | None:
    """Decimal from a Decimal, int or decimal string; a float (or bool) is a TypeError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{name}: give a Decimal, an int or a decimal string, not {value!r}")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{name}: {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return result


def decimal_str(value: Decimal | None) -> str | None:
    """A Decimal as the platform takes it: plain notation, no exponent."""
    return None if value is None else format(value, "f")


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class Order:
    """An order to put through the gate.

    `Order("ACC-001", "AAPL", "buy", "100", "189.50")` is a day limit order; without a limit
    price it is a market order. The `client_order_id` is made once, here, so that a retry of
    the same `Order` is recognised by the platform and never creates a second order. A `gtd`
    order names its `expire_at` (an aware datetime); no other time in force takes one.
    """

    account: str
    instrument: str
    side: str
    quantity: Amount
    limit_price: Amount | None = None
    order_type: str | None = None
    time_in_force: str = "day"
    client_order_id: str = field(default_factory=new_client_order_id)
    metadata: dict[str, Any] = field(default_factory=dict)
    expire_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side: {self.side!r} is not one of {', '.join(SIDES)}")
        object.__setattr__(self, "quantity", to_decimal(self.quantity, "quantity"))
        object.__setattr__(self, "limit_price", to_decimal(self.limit_price, "limit_price"))
        if self.order_type is None:
            kind = "market" if self.limit_price is None else "limit"
            object.__setattr__(self, "order_type", kind)
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type: {self.order_type!r} is not one of limit, market")
        if self.time_in_force not in TIMES_IN_FORCE:
            raise ValueError(
                f"time_in_force: {self.time_in_force!r} is not one of {', '.join(TIMES_IN_FORCE)}"
            )
        if self.time_in_force == "gtd":
            if not isinstance(self.expire_at, datetime) or self.expire_at.tzinfo is None:
                raise ValueError("expire_at: a gtd order needs an aware datetime")
        elif self.expire_at is not None:
            raise ValueError(f"expire_at: only a gtd order takes one, not {self.time_in_force}")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_order_id": self.client_order_id,
            "account": self.account,
            "instrument": self.instrument,
            "side": self.side,
            "order_type": self.order_type,
            "quantity": decimal_str(self.quantity),  # type: ignore[arg-type]
            "time_in_force": self.time_in_force,
            "metadata": self.metadata,
        }
        if self.limit_price is not None:
            body["limit_price"] = decimal_str(self.limit_price)  # type: ignore[arg-type]
        if self.expire_at is not None:
            body["expire_at"] = self.expire_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return body


@dataclass(frozen=True)
class Check:
    """One rule's result: which rule, pass/fail/warn/skipped, what it saw against what limit."""

    rule: str
    rule_type: str
    status: str
    observed: str | None = None
    threshold: str | None = None
    message: str = ""
    regulation: str = ""
    code: str | None = None
    action: str | None = None
    shadow: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            rule=str(data.get("rule") or ""),
            rule_type=str(data.get("rule_type") or ""),
            status=str(data.get("status") or ""),
            observed=text("observed"),
            threshold=text("threshold"),
            message=str(data.get("message") or ""),
            regulation=str(data.get("regulation") or ""),
            code=text("code"),
            action=text("action"),
            shadow=bool(data.get("shadow", False)),
        )


def _checks(items: Any) -> tuple[Check, ...]:
    return tuple(Check.from_json(c) for c in items or () if isinstance(c, dict))


@dataclass(frozen=True)
class ApprovalRef:
    """The approval request of a held order."""

    id: int
    expires_at: datetime | None
    status: str = "pending"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ApprovalRef | None:
        if not data:
            return None
        return cls(
            id=int(data["id"]),
            expires_at=_time(data.get("expires_at")),
            status=str(data.get("status") or "pending"),
        )


@dataclass(frozen=True)
class Decision:
    """The gate's answer: `accepted`, `rejected` or `pending_approval`, with every rule's result.

    `reason` is the coded reason of a rejection (the first failing rule's code). A decision the
    client made itself because the gate could not answer (`local` is True) is always a
    rejection, with `reason` such as `gate_unreachable` or `gate_timeout`.
    """

    status: str
    checks: tuple[Check, ...] = ()
    id: int | None = None
    client_order_id: str | None = None
    approval: ApprovalRef | None = None
    replayed: bool = False
    local: bool = False
    reason: str | None = None
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    @property
    def pending(self) -> bool:
        return self.status == "pending_approval"

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> Decision:
        # Strict: fail closed means that only an answer in the platform's own shape can accept.
        status, items, order_id = data["status"], data["checks"], data.get("id")
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown decision status {status!r}")
        if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
            raise ValueError("checks is not a list of checks")
        if order_id is not None and (isinstance(order_id, bool) or not isinstance(order_id, int)):
            raise ValueError(f"order id {order_id!r} is not an integer")
        checks = _checks(items)
        failed = [c for c in checks if c.failed and not c.shadow]
        reason = None
        message = ""
        if status != "accepted" and failed:
            reason, message = failed[0].code or failed[0].rule, failed[0].message
        return cls(
            status=status,
            checks=checks,
            id=order_id,
            client_order_id=data.get("client_order_id"),
            approval=ApprovalRef.from_json(data.get("approval")),
            replayed=replayed,
            reason=reason,
            message=message,
        )

    @classmethod
    def fail_closed(cls, order: Order, reason: str, message: str) -> Decision:
        """The client's own rejection when the gate cannot answer: never an accept."""
        check = Check(
            rule="CLIENT-FAIL-CLOSED",
            rule_type="client",
            status="fail",
            message=message,
            regulation="SEC 15c3-5 (fail closed)",
            code=reason,
            action="reject",
        )
        return cls(
            status="rejected",
            checks=(check,),
            client_order_id=order.client_order_id,
            local=True,
            reason=reason,
            message=message,
        )


@dataclass(frozen=True)
class OrderInfo:
    """An order as the platform holds it now."""

    id: int
    client_order_id: str
    account: str
    instrument: str
    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    limit_price: Decimal | None
    status: str
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    reference_price: Decimal | None
    submitted_by: str | None
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    checks: tuple[Check, ...]
    approval: ApprovalRef | None
    expire_at: datetime | None = None  # when it expires if still working (None: gtc)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderInfo:
        return cls(
            id=int(data["id"]),
            client_order_id=str(data["client_order_id"]),
            account=str(data["account"]),
            instrument=str(data["instrument"]),
            side=str(data["side"]),
            order_type=str(data["order_type"]),
            time_in_force=str(data.get("time_in_force") or ""),
            quantity=Decimal(str(data["quantity"])),
            limit_price=_dec(data.get("limit_price")),
            status=str(data["status"]),
            filled_quantity=_dec(data.get("filled_quantity")) or Decimal(0),
            avg_fill_price=_dec(data.get("avg_fill_price")),
            reference_price=_dec(data.get("reference_price")),
            submitted_by=data.get("submitted_by"),
            metadata=data.get("metadata") or {},
            created_at=_time(data.get("created_at")),
            updated_at=_time(data.get("updated_at")),
            checks=_checks(data.get("checks")),
            approval=ApprovalRef.from_json(data.get("approval")),
            expire_at=_time(data.get("expire_at")),
        )


@dataclass(frozen=True)
class Position:
    account: str
    instrument: str
    quantity: Decimal
    average_cost: Decimal
    realised_pnl: Decimal
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position:
        return cls(
            account=str(data["account"]),
            instrument=str(data["instrument"]),
            quantity=Decimal(str(data["quantity"])),
            average_cost=_dec(data.get("average_cost")) or Decimal(0),
            realised_pnl=_dec(data.get("realised_pnl")) or Decimal(0),
            updated_at=_time(data.get("updated_at")),
        )


@dataclass(frozen=True)
class Instrument:
    """Reference data: what the gate prices an order against."""

    symbol: str
    isin: str
    mic: str
    name: str
    asset_class: str
    sector: str
    currency: str
    lot_size: Decimal
    tick_size: Decimal
    reference_price: Decimal | None
    reference_price_as_of: datetime | None
    is_active: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instrument:
        return cls(
            symbol=str(data["symbol"]),
            isin=str(data.get("isin") or ""),
            mic=str(data.get("mic") or ""),
            name=str(data.get("name") or ""),
            asset_class=str(data.get("asset_class") or ""),
            sector=str(data.get("sector") or ""),
            currency=str(data.get("currency") or ""),
            lot_size=_dec(data.get("lot_size")) or Decimal(1),
            tick_size=_dec(data.get("tick_size")) or Decimal(0),
            reference_price=_dec(data.get("reference_price")),
            reference_price_as_of=_time(data.get("reference_price_as_of")),
            is_active=bool(data.get("is_active", True)),
        )


@dataclass(frozen=True)
class FillResult:
    fill_id: int
    exec_id: str
    order: OrderInfo
    position: Position

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FillResult:
        return cls(
            fill_id=int(data["fill_id"]),
            exec_id=str(data["exec_id"]),
            order=OrderInfo.from_json(data["order"]),
            position=Position.from_json(data["position"]),
        )


@dataclass(frozen=True)
class AmendResult:
    """An amendment goes through the gate again: `amended` is False when it would be rejected
    or held, and the order is then unchanged."""

    amended: bool
    decision: str
    checks: tuple[Check, ...]
    order: OrderInfo

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AmendResult:
        return cls(
            amended=bool(data["amended"]),
            decision=str(data["decision"]),
            checks=_checks(data.get("checks")),
            order=OrderInfo.from_json(data["order"]),
        )


@dataclass(frozen=True)
class KillSwitch:
    id: int
    scope: str
    target: str
    state: str
    reason: str
    is_active: bool
    activated_by: str
    activated_at: datetime | None
    deactivated_by: str | None
    deactivated_at: datetime | None
    canceled_orders: int
    snapshot_counts: dict[str, int]
    snapshot: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KillSwitch:
        return cls(
            id=int(data["id"]),
            scope=str(data["scope"]),
            target=str(data.get("target") or ""),
            state=str(data["state"]),
            reason=str(data.get("reason") or ""),
            is_active=bool(data["is_active"]),
            activated_by=str(data.get("activated_by") or ""),
            activated_at=_time(data.get("activated_at")),
            deactivated_by=data.get("deactivated_by"),
            deactivated_at=_time(data.get("deactivated_at")),
            canceled_orders=int(data.get("canceled_orders") or 0),
            snapshot_counts=dict(data.get("snapshot_counts") or {}),
            snapshot=data.get("snapshot"),
        )


@dataclass(frozen=True)
class ApprovalOutcome:
    """How a held order ended: `approved` (the order is now accepted), `denied`, `expired` or
    `canceled`, learnt by polling the order or from the platform's signed webhook."""

    order_id: int
    approval_id: int | None
    status: str
    order_status: str
    decided_by: str | None = None
    comment: str = ""
    source: str = "poll"

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @classmethod
    def from_order(cls, order: OrderInfo) -> ApprovalOutcome | None:
        """The outcome once the order has left `pending_approval`; None while it waits."""
        approval = order.approval
        if order.status == "pending_approval" or (approval and approval.status == "pending"):
            return None
        if approval is not None and approval.status in APPROVAL_OUTCOMES:
            status = approval.status
        else:  # no approval on the order (never held, or ended by another path)
            status = {"accepted": "approved", "rejected": "denied"}.get(order.status, order.status)
        return cls(
            order_id=order.id,
            approval_id=approval.id if approval else None,
            status=status,
            order_status=order.status,
        )

    @classmethod
    def from_webhook(cls, data: dict[str, Any]) -> ApprovalOutcome:
        approval, order = data.get("approval") or {}, data.get("order") or {}
        return cls(
            order_id=int(order["id"]),
            approval_id=approval.get("id"),
            status=str(approval.get("status") or ""),
            order_status=str(order.get("status") or ""),
            decided_by=approval.get("decided_by"),
            comment=str(approval.get("comment") or ""),
            source="webhook",
        )
