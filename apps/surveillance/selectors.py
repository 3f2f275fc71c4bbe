"""Reads of surveillance: alerts, their cases, the false-positive rates, the chart's data."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from apps.rbac.access import has_role
from apps.rbac.roles import ROLE_GROUPS, Role
from apps.surveillance.models import (
    Alert,
    AlertStatus,
    Detector,
    Disposition,
    ExecutionReport,
    Severity,
)
from apps.trading.models import Account, Fill, FillStatus, Order, OrderStatus
from apps.trading.pricing import valuation_price

CHART_PADDING = timedelta(seconds=30)
CHART_MAX_POINTS = 400


def alert_list(*, user) -> QuerySet[Alert]:
    """Every alert for a Compliance Officer and above; nothing for anyone else (MAR: no
    tipping off, whatever the caller's entitlements)."""
    if not has_role(user, Role.COMPLIANCE_OFFICER):
        return Alert.objects.none()
    return Alert.objects.select_related("account", "instrument", "assignee", "closed_by")


def alert_get(*, user, alert_id: int) -> Alert | None:
    alerts = alert_list(user=user).select_related("account__beneficial_owner")
    return alerts.filter(pk=alert_id).first()


OPEN_ALERTS_SHOWN = 20
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def account_open_alerts(*, order, user) -> list[dict]:
    """The alerts not yet closed on `order`'s account: critical first, then those in the same
    instrument, newest first within each; nothing for a user below Compliance Officer."""
    alerts = (
        alert_list(user=user)
        .filter(account_id=order.account_id)
        .exclude(status=AlertStatus.CLOSED)
        .order_by("-created_at", "-id")[:200]
    )
    rows = [
        {
            "id": alert.pk,
            "severity": alert.severity,
            "severity_label": alert.get_severity_display(),
            "detector": alert.get_detector_display(),
            "title": alert.title,
            "instrument": alert.instrument.symbol if alert.instrument else "",
            "same_instrument": alert.instrument_id == order.instrument_id,
            "status": alert.status,
            "status_label": alert.get_status_display(),
            "created_at": alert.created_at,
            "assignee": alert.assignee.get_username() if alert.assignee else "",
            "url": reverse("surveillance-alert", args=[alert.pk]),
        }
        for alert in alerts
    ]
    rows.sort(key=lambda r: (SEVERITY_RANK.get(r["severity"], 9), not r["same_instrument"]))
    return rows[:OPEN_ALERTS_SHOWN]


def alert_assignees():
    """Who may be given a case: active users holding Compliance Officer or above."""
    groups = [name for role, name in ROLE_GROUPS.items() if role >= Role.COMPLIANCE_OFFICER]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=groups))
        .distinct()
        .order_by("username")
    )


def alert_evidence(alert: Alert) -> dict:
    """The orders, fills and drop-copy executions the alert names as its evidence."""
    evidence = alert.evidence or {}

    def ids(name: str) -> list[int]:
        return [i for i in evidence.get(name, []) if isinstance(i, int)]

    return {
        "orders": list(
            Order.objects.filter(pk__in=ids("orders"))
            .select_related("account", "instrument")
            .order_by("created_at", "id")
        ),
        "fills": list(
            Fill.objects.filter(pk__in=ids("fills"))
            .select_related("order__account", "order__instrument")
            .order_by("executed_at", "id")
        ),
        "executions": list(
            ExecutionReport.objects.filter(pk__in=ids("executions"))
            .select_related("account", "instrument")
            .order_by("executed_at", "id")
        ),
    }


def execution_report_list() -> QuerySet[ExecutionReport]:
    return ExecutionReport.objects.select_related("account", "instrument", "order")


def false_positive_rates(*, start=None, end=None) -> list[dict]:
    """Per detector: closed alerts, how many were false positives, and the share (None when
    none are closed yet). `start`/`end` bound the closing time (the compliance report's period)."""
    closed = Alert.objects.filter(status=AlertStatus.CLOSED)
    if start is not None:
        closed = closed.filter(closed_at__gte=start)
    if end is not None:
        closed = closed.filter(closed_at__lt=end)
    counts = {
        row["detector"]: row
        for row in closed.values("detector").annotate(
            closed=Count("id"),
            false_positive=Count("id", filter=Q(disposition=Disposition.FALSE_POSITIVE)),
        )
    }
    open_counts = dict(
        Alert.objects.exclude(status=AlertStatus.CLOSED)
        .values_list("detector")
        .annotate(n=Count("id"))
    )
    rates = []
    for detector, label in Detector.choices:
        row = counts.get(detector, {"closed": 0, "false_positive": 0})
        rate = None
        if row["closed"]:
            rate = (Decimal(row["false_positive"]) / row["closed"]).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_UP
            )
        rates.append(
            {
                "detector": detector,
                "label": label,
                "open": open_counts.get(detector, 0),
                "closed": row["closed"],
                "false_positive": row["false_positive"],
                "rate": rate,
            }
        )
    return rates


def alert_timeline(alert: Alert) -> dict:
    """The orders and fills around an alert, for its chart: the alert's account (and the other
    accounts of its beneficial owner) in its instrument, over its window and a little more."""
    start, end = alert.window_start - CHART_PADDING, alert.window_end + CHART_PADDING
    accounts = []
    if alert.account_id:
        accounts = list(
            Account.objects.filter(
                beneficial_owner_id=alert.account.beneficial_owner_id
            ).values_list("pk", flat=True)
        )
    orders_q = Order.objects.filter(created_at__gte=start, created_at__lte=end)
    fills_q = Fill.objects.filter(
        status=FillStatus.ACTIVE, executed_at__gte=start, executed_at__lte=end
    )
    evidence = alert.evidence or {}
    if accounts:
        orders_q = orders_q.filter(account_id__in=accounts)
        fills_q = fills_q.filter(order__account_id__in=accounts)
    if alert.instrument_id:
        orders_q = orders_q.filter(instrument_id=alert.instrument_id)
        fills_q = fills_q.filter(order__instrument_id=alert.instrument_id)
    evidence_orders = set(evidence.get("orders", []))
    evidence_fills = set(evidence.get("fills", []))
    orders = [
        {
            "id": o.pk,
            "at": o.created_at,
            "side": o.side,
            "price": valuation_price(o.limit_price, o.reference_price),
            "quantity": o.quantity,
            "status": o.status,
            "canceled_at": o.updated_at if o.status == OrderStatus.CANCELED else None,
            "account": o.account.code,
            "evidence": o.pk in evidence_orders,
        }
        for o in orders_q.select_related("account").order_by("created_at")[:CHART_MAX_POINTS]
    ]
    fills = [
        {
            "id": f.pk,
            "at": f.executed_at,
            "side": f.order.side,
            "price": f.price,
            "quantity": f.quantity,
            "order": f.order_id,
            "account": f.order.account.code,
            "evidence": f.pk in evidence_fills,
        }
        for f in fills_q.select_related("order__account").order_by("executed_at")[:CHART_MAX_POINTS]
    ]
    executions = list(
        ExecutionReport.objects.filter(pk__in=evidence.get("executions", [])).order_by(
            "executed_at"
        )
    )
    return {"start": start, "end": end, "orders": orders, "fills": fills, "executions": executions}
