"""Reads of approval requests, and what a decider needs to see beside one."""

import json
from decimal import Decimal, InvalidOperation

from django.db.models import Q, QuerySet

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.audit.models import AuditEvent
from apps.trading.models import (
    SELL_SIDES,
    WORKING_STATUSES,
    Order,
    OrderStatus,
    Position,
    Side,
    signed_quantity,
)

OBJECT_TYPE = "approvals.approvalrequest"
ORDER_OBJECT_TYPE = "trading.order"
HISTORY_EVENTS = 100

RECENT_ALERTS = 10
ALERT_WINDOW = 200  # the account's latest orders looked through for rejections and warnings


def approval_list(*, user) -> QuerySet[ApprovalRequest]:
    """Every request for now; `user` is for the entitlement filter to come (a decider sees the
    requests of the accounts they may see), and every read below goes through here."""
    return ApprovalRequest.objects.select_related(
        "order__account", "order__instrument", "order__submitted_by", "decided_by"
    )


def approval_pending(*, user) -> QuerySet[ApprovalRequest]:
    """The queue: what expires first comes first."""
    return approval_list(user=user).filter(status=ApprovalStatus.PENDING).order_by("expires_at")


def approval_history(*, user) -> QuerySet[ApprovalRequest]:
    return (
        approval_list(user=user)
        .exclude(status=ApprovalStatus.PENDING)
        .order_by("-decided_at", "-requested_at", "-id")
    )


def approval_get(*, user, approval_id: int) -> ApprovalRequest | None:
    return approval_list(user=user).filter(pk=approval_id).first()


def position_figures(order: Order) -> dict:
    """The account's position in the instrument, each figure named for what it counts.

    `now`: the net position (fills only). `working`: the other open orders of the account in
    the instrument on this order's side, their open quantity signed. `with_working`: now plus
    those. `worst_case`: with them and this order filled in full, which is what the position
    limit measures (the "observed" of its check). `if_filled`: now plus this order alone.
    """
    row = (
        Position.objects.filter(account_id=order.account_id, instrument_id=order.instrument_id)
        .values_list("quantity", flat=True)
        .first()
    )
    now = row if row is not None else Decimal("0")
    sell = signed_quantity(order.side, Decimal("1")) < 0
    others = (
        Order.objects.filter(
            account_id=order.account_id,
            instrument_id=order.instrument_id,
            status__in=WORKING_STATUSES,
            side__in=SELL_SIDES if sell else [s for s in Side.values if s not in SELL_SIDES],
        )
        .exclude(pk=order.pk)
        .values_list("side", "quantity", "filled_quantity")
    )
    working = sum((signed_quantity(side, q - f) for side, q, f in others), Decimal("0"))
    this = signed_quantity(order.side, order.remaining_quantity)
    return {
        "now": now,
        "working": working,
        "working_count": len(others),
        "with_working": now + working,
        "worst_case": now + working + this,
        "if_filled": now + this,
    }


HISTORY_LABELS = {
    "ORDER_SUBMITTED": "Submitted",
    "APPROVAL_REQUESTED": "Held for approval",
    "APPROVAL_REFUSED": "Approval refused by the re-check",
    "APPROVAL_GRANTED": "Approved",
    "APPROVAL_DENIED": "Denied",
    "APPROVAL_EXPIRED": "Expired without a decision",
    "APPROVAL_CANCELED": "Canceled before a decision",
}


def decision_history(approval: ApprovalRequest) -> list[dict]:
    """What happened to the held order and its request, oldest first, from the audit trail:
    who did what and when (submitted, held, refused, approved or denied, filled, canceled)."""
    order_id = str(approval.order_id)
    events = AuditEvent.objects.filter(
        Q(object_type=ORDER_OBJECT_TYPE, object_id=order_id)
        | Q(object_type=OBJECT_TYPE, object_id=str(approval.pk))
    ).order_by("seq")[:HISTORY_EVENTS]
    rows = []
    for event in events:
        try:
            payload = json.loads(event.record).get("payload") or {}
        except ValueError:
            payload = {}
        note = payload.get("comment") or payload.get("reason") or ""
        rows.append(
            {
                "seq": event.seq,
                "at": event.occurred_at,
                "what": HISTORY_LABELS.get(
                    event.event_type, event.event_type.replace("_", " ").capitalize()
                ),
                "event_type": event.event_type,
                "actor": event.actor,
                "note": note if isinstance(note, str) else "",
            }
        )
    return rows


def _number(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def limit_usage(checks: list[dict]) -> list[dict]:
    """Each limit the order was measured against, with how much of it the order uses.

    From the checks stored at submission: observed against threshold, in per cent where both
    are numbers (a price collar's deviation against its width, a notional against its cap).
    """
    rows = []
    for check in checks:
        if check.get("status") == "skipped":
            continue
        observed, threshold = _number(check.get("observed")), _number(check.get("threshold"))
        used = None
        if observed is not None and threshold is not None and threshold > 0:
            used = (abs(observed) / threshold * 100).quantize(Decimal("0.1"))
        rows.append({**check, "used_pct": used, "bar_pct": min(used, 100) if used else 0})
    rows.sort(key=lambda r: (r["used_pct"] is None, -(r["used_pct"] or 0)))
    return rows


def account_recent_alerts(order: Order, *, limit: int = RECENT_ALERTS) -> list[dict]:
    """Recent rejected, held and warned orders on the order's account, newest first
    (surveillance alerts join these once the surveillance app exists)."""
    recent = (
        Order.objects.filter(account_id=order.account_id)
        .exclude(pk=order.pk)
        .select_related("instrument")
        .order_by("-created_at", "-id")[:ALERT_WINDOW]
    )
    alerts = []
    for other in recent:
        failed = [c for c in other.checks if c.get("status") == "fail"]
        warned = [c for c in other.checks if c.get("status") == "warn"]
        if other.status == OrderStatus.REJECTED:
            kind = "rejected"
        elif failed:
            kind = "held"  # failed only hold rules: it went to the queue
        elif warned:
            kind = "warning"
        else:
            continue
        first = (failed or warned or [{}])[0]
        alerts.append(
            {
                "order": other,
                "kind": kind,
                "rule": first.get("rule", ""),
                "message": first.get("message", ""),
            }
        )
        if len(alerts) >= limit:
            break
    return alerts
