"""Reads of the compliance status and the dashboard: a few grouped queries each, no loops of
queries. Every figure is counted in the database at the moment of the request."""

from collections import Counter
from datetime import datetime, timedelta

from django.db.models import Case, Count, Exists, OuterRef, Value, When
from django.db.models.functions import TruncMinute
from django_celery_beat.models import PeriodicTask

from apps.approvals.models import ApprovalRequest
from apps.audit.models import Checkpoint
from apps.killswitch.models import KillSwitch
from apps.monitoring.models import MonitorRun, RunStatus, Violation, ViolationStatus
from apps.monitoring.services import calendars_now
from apps.rbac.access import has_role
from apps.rbac.roles import Role
from apps.rules.models import PORTFOLIO_RULE_TYPES, ComplianceRule, RuleStatus
from apps.surveillance.models import Alert, AlertStatus
from apps.trading.models import Order, OrderStatus

SEVERITIES = ("critical", "warning", "info")
# A run at least this recent while a venue is open: the monitor is running.
STALE_AFTER = timedelta(seconds=180)
MONITOR_TASK = "monitoring.run_checks"
OPEN_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.IN_REVIEW, AlertStatus.ESCALATED)
SUMMARY_LIMIT = 50
SEVERITY_ORDER = Case(
    *(When(severity=s, then=Value(rank)) for rank, s in enumerate(SEVERITIES)), default=Value(9)
)


def violations_active_by_severity() -> dict[str, int]:
    counts = dict(
        Violation.objects.filter(status=ViolationStatus.ACTIVE)
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def compliance_status(*, now: datetime) -> dict:
    last = MonitorRun.objects.order_by("-started_at", "-id").first()
    scheduled = PeriodicTask.objects.filter(task=MONITOR_TASK, enabled=True).exists()
    _calendars, open_now = calendars_now(now)
    fresh = last is not None and now - last.started_at <= STALE_AFTER
    active = ComplianceRule.objects.filter(status=RuleStatus.ACTIVE)
    violations = Violation.objects.filter(status=ViolationStatus.ACTIVE)
    day_ago = now - timedelta(hours=24)
    return {
        "monitoring_active": scheduled and (fresh or not open_now),
        "markets_open": bool(open_now),
        "total_rules": active.count(),
        "portfolio_rules": active.filter(rule_type__in=PORTFOLIO_RULE_TYPES).count(),
        "active_violations": violations_active_by_severity(),
        "last_check": last,
        "check_count": MonitorRun.objects.count(),
        "failed_checks": MonitorRun.objects.filter(status=RunStatus.ERROR).count(),
        "violation_summary": {
            "active": violations.count(),
            "opened_last_24h": Violation.objects.filter(first_seen__gte=day_ago).count(),
            "resolved_last_24h": Violation.objects.filter(resolved_at__gte=day_ago).count(),
            "by_rule_type": dict(
                violations.values_list("rule_type")
                .annotate(n=Count("id"))
                .order_by("rule_type")
                .values_list("rule_type", "n")
            ),
            "violations": list(
                violations.order_by(SEVERITY_ORDER, "-last_seen", "-id")[:SUMMARY_LIMIT]
            ),
        },
    }


# --- the dashboard ----------------------------------------------------------------------------


def decisions_per_minute(*, now: datetime, minutes: int = 30) -> dict:
    """Orders decided per minute over the last `minutes`, by the decision at submission: held
    for approval (whatever came of it), rejected, or accepted."""
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    held = Exists(ApprovalRequest.objects.filter(order=OuterRef("pk")))
    rows = (
        Order.objects.filter(created_at__gte=start)
        .annotate(minute=TruncMinute("created_at"), held=held)
        .values_list("minute", "status", "held")
        .annotate(n=Count("id"))
        .values_list("minute", "status", "held", "n")
    )
    labels = [start + timedelta(minutes=k) for k in range(minutes)]
    series = {outcome: [0] * minutes for outcome in ("accepted", "rejected", "pending_approval")}
    for minute, status, was_held, n in rows:
        k = int((minute - start).total_seconds() // 60)
        if not 0 <= k < minutes:
            continue
        if was_held:
            outcome = "pending_approval"
        elif status == OrderStatus.REJECTED:
            outcome = "rejected"
        else:
            outcome = "accepted"
        series[outcome][k] += n
    return {"labels": [t.strftime("%H:%M") for t in labels], "series": series}


def rejections_by_rule(*, now: datetime, hours: int = 24, limit: int = 10) -> list[dict]:
    """The rules that rejected the most orders in the last `hours` (the newest 5000 rejected
    orders are read)."""
    checks = Order.objects.filter(
        status=OrderStatus.REJECTED, created_at__gte=now - timedelta(hours=hours)
    ).order_by("-created_at")[:5000]
    counts = Counter(
        check["rule"]
        for order_checks in checks.values_list("checks", flat=True)
        for check in order_checks or []
        if check.get("status") == "fail" and check.get("action") == "reject"
    )
    return [{"rule": rule, "count": n} for rule, n in counts.most_common(limit)]


def open_alerts_by_detector() -> dict[str, int]:
    return dict(
        Alert.objects.filter(status__in=OPEN_ALERT_STATUSES)
        .values_list("detector")
        .annotate(n=Count("id"))
        .order_by("detector")
        .values_list("detector", "n")
    )


def kill_switch_state() -> dict:
    switches = list(KillSwitch.objects.filter(is_active=True).order_by("activated_at"))
    firm = next((s for s in switches if s.scope == "firm"), None)
    return {
        "firm": firm.state if firm else "trading",
        "active": [
            {
                "scope": s.scope,
                "target": s.target,
                "state": s.state,
                "reason": s.reason,
                "activated_at": s.activated_at,
            }
            for s in switches
        ],
    }


def latest_checkpoint(*, now: datetime | None = None) -> dict | None:
    """The latest signed checkpoint, with `witness`: the last witnessed one (the last stored one
    when no witness is configured), its age and the events waiting past it."""
    from apps.audit.selectors import audit_tail
    from apps.core.time import utcnow

    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    if checkpoint is None:
        return None
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "created_at": checkpoint.created_at,
        "key_id": checkpoint.key_id,
        "witness": audit_tail(now=now or utcnow()),
    }


def dashboard_data(*, now: datetime, user=None) -> dict:
    """The dashboard's figures; the open alerts are counted for a Compliance Officer and above
    only (MAR: no tipping off), an empty mapping for anyone else."""
    alerts = open_alerts_by_detector() if has_role(user, Role.COMPLIANCE_OFFICER) else {}
    return {
        "generated_at": now,
        "decisions_per_minute": decisions_per_minute(now=now),
        "rejections_by_rule": rejections_by_rule(now=now),
        "active_violations": violations_active_by_severity(),
        "open_alerts_by_detector": alerts,
        "kill_switch": kill_switch_state(),
        "latest_checkpoint": latest_checkpoint(now=now),
    }
