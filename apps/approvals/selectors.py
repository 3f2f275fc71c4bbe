"""Reads of approval requests, and what a decider needs to see beside one."""

from decimal import Decimal, InvalidOperation

from django.db.models import QuerySet

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.trading.models import Order, OrderStatus, Position, signed_quantity

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


def position_before_after(order: Order) -> dict:
    """The account's position in the instrument now, and after the order if it fills in full."""
    row = (
        Position.objects.filter(account_id=order.account_id, instrument_id=order.instrument_id)
        .values_list("quantity", flat=True)
        .first()
    )
    before = row if row is not None else Decimal("0")
    signed = signed_quantity(order.side, order.remaining_quantity)
    return {"before": before, "after": before + signed}


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
