"""Writes of surveillance: detector settings, drop copies, alerts raised, and the case work.

Every change writes its audit event in the same transaction. Raising an alert also tells staff
(apps.notifications) and, where the detector's settings say so, sets the account's kill switch:
the one way surveillance reaches back into trading.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from apps.audit.events import EventType
from apps.audit.services import audit_record, field_values, update_audited
from apps.core.errors import Conflict, NotFound, ValidationFailed, field_errors
from apps.core.time import utcnow
from apps.core.types import to_decimal
from apps.core.validation import clean_or_raise
from apps.killswitch.models import KillSwitch, KillSwitchScope, KillSwitchState
from apps.killswitch.services import kill_switch_activate
from apps.notifications.services import alert_notify
from apps.rbac.access import has_role, require_role
from apps.rbac.roles import Role
from apps.surveillance.detectors import DETECTORS
from apps.surveillance.detectors.base import Finding, params_json, params_validated
from apps.surveillance.models import (
    SEVERITY_RANK,
    Alert,
    AlertNote,
    AlertStatus,
    DetectorConfig,
    Disposition,
    ExecutionReport,
    LoopBackAction,
    Occurrence,
    RelatedParty,
    Severity,
)
from apps.trading.models import Account, BeneficialOwner, Instrument, Order, Side

CASE_ROLE = Role.COMPLIANCE_OFFICER
CONTROL_NAME = "surveillance"
COMMENT_MAX_LENGTH = 4000
EVIDENCE_MAX_IDS = 500
DUE_DAYS = {Severity.CRITICAL: 1, Severity.WARNING: 5, Severity.INFO: 10}
# Out of the box only a fill the gate never let through halts the account at once (a failed
# control, not a judgement); every other finding alerts, and compliance chooses per detector
# and severity what restricts trading.
DEFAULT_CRITICAL_ACTIONS = {"gate_reconciliation": LoopBackAction.HALTED}
DETECTOR_SETTINGS = ("enabled", "params", "critical_action", "warning_action")
TRANSITIONS = {
    AlertStatus.OPEN: {AlertStatus.IN_REVIEW, AlertStatus.ESCALATED},
    AlertStatus.IN_REVIEW: {AlertStatus.OPEN, AlertStatus.ESCALATED},
    AlertStatus.ESCALATED: {AlertStatus.IN_REVIEW},
    AlertStatus.CLOSED: {AlertStatus.IN_REVIEW},  # reopened
}


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


# --- detector settings ------------------------------------------------------------------------


def detector_configs_ensure() -> dict[str, DetectorConfig]:
    """Every detector's settings row, created with the defaults where missing."""
    rows = {c.detector: c for c in DetectorConfig.objects.all()}
    for name in DETECTORS:
        if name not in rows:
            rows[name], _ = DetectorConfig.objects.get_or_create(
                detector=name,
                defaults={
                    "critical_action": DEFAULT_CRITICAL_ACTIONS.get(name, LoopBackAction.NONE)
                },
            )
    return rows


@transaction.atomic
def detector_config_update(*, config: DetectorConfig, actor, **changes) -> DetectorConfig:
    """Change a detector's settings (enabled, params, critical_action, warning_action)."""
    require_role(actor, CASE_ROLE, "change surveillance settings")
    config = DetectorConfig.objects.select_for_update().get(pk=config.pk)
    if "params" in changes:
        spec = DETECTORS[config.detector].params_spec
        given = changes["params"] or {}
        validated = params_validated(spec, given)
        changes["params"] = {k: v for k, v in params_json(validated).items() if k in given}
    return update_audited(
        config,
        changes=changes,
        actor=actor,
        allowed=DETECTOR_SETTINGS,
        payload={"detector": config.detector},
    )


# --- related parties ------------------------------------------------------------------------

RELATED_PARTY_FIELDS = ["owner", "related_owner", "relationship", "documented_in"]


@transaction.atomic
def related_party_record(
    *,
    owner: BeneficialOwner,
    related_owner: BeneficialOwner,
    relationship: str,
    documented_in: str,
    actor,
) -> RelatedParty:
    """Record two beneficial owners as related: wash-trade surveillance counts them as one."""
    require_role(actor, CASE_ROLE, "record related parties")
    if owner.pk == related_owner.pk:
        raise ValidationFailed(details=field_errors(related_owner="An owner is itself already."))
    first, second = sorted((owner, related_owner), key=lambda o: o.pk)
    if RelatedParty.objects.filter(owner=first, related_owner=second).exists():
        raise Conflict(
            "These owners are on record as related already.", code="related_party_exists"
        )
    party = RelatedParty(
        owner=first,
        related_owner=second,
        relationship=_text(relationship, "relationship", required=True),
        documented_in=_text(documented_in, "documented_in", required=True),
        recorded_by=actor,
    )
    clean_or_raise(party)
    party.save()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=party._meta.label_lower,
        object_id=party.pk,
        payload={
            "change": "created",
            "before": None,
            "after": field_values(party, RELATED_PARTY_FIELDS),
        },
    )
    return party


@transaction.atomic
def related_party_remove(*, party: RelatedParty, actor) -> None:
    """Take a relationship off the record (the trail keeps that it was there)."""
    require_role(actor, CASE_ROLE, "remove related parties")
    party = RelatedParty.objects.select_for_update().filter(pk=party.pk).first()
    if party is None:
        raise NotFound("No such related party.")
    before = field_values(party, RELATED_PARTY_FIELDS)
    pk = party.pk
    party.delete()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=RelatedParty._meta.label_lower,
        object_id=pk,
        payload={"change": "deleted", "before": before, "after": None},
    )


# --- drop copies ------------------------------------------------------------------------------


@transaction.atomic
def execution_report_record(
    *,
    account: Account,
    instrument: Instrument,
    client_order_id: str,
    exec_id: str,
    side: str,
    quantity,
    price,
    venue: str,
    executed_at: datetime,
    actor=None,
) -> ExecutionReport:
    """Keep an execution as the venue reported it, matched to the gate's order if there is one.

    Never refused for what it says (a drop copy is a fact to reconcile, not a request); only
    malformed input and a repeated exec_id are."""
    quantity = to_decimal(quantity, field="quantity", positive=True)
    price = to_decimal(price, field="price", positive=True)
    if side not in Side.values:
        raise ValidationFailed(
            details=field_errors(side=f"Must be one of: {', '.join(Side.values)}.")
        )
    if not isinstance(executed_at, datetime) or executed_at.tzinfo is None:
        raise ValidationFailed(details=field_errors(executed_at="A time with a time zone."))
    existing = ExecutionReport.objects.filter(exec_id=exec_id).first()
    if existing is not None:
        raise Conflict(
            "An execution with this exec_id is already recorded.",
            code="duplicate_exec_id",
            details={"exec_id": exec_id, "execution_id": existing.pk},
        )
    order = (
        Order.objects.select_for_update()
        .filter(account=account, client_order_id=client_order_id)
        .first()
    )
    before = Decimal(0)
    if order is not None:
        before = ExecutionReport.objects.filter(order=order).aggregate(s=Sum("quantity"))["s"]
        before = before or Decimal(0)
    report = ExecutionReport(
        exec_id=exec_id,
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        order=order,
        order_status=order.status if order else "",
        side=side,
        quantity=quantity,
        price=price,
        venue=venue,
        executed_at=executed_at,
        reported_total=before + quantity,
        received_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    clean_or_raise(report, exclude=["account", "instrument", "order", "received_by"])
    report.save()
    audit_record(
        event_type=EventType.EXECUTION_REPORTED,
        actor=actor,
        object_type="surveillance.executionreport",
        object_id=report.pk,
        payload={
            "exec_id": exec_id,
            "account": account.code,
            "instrument": instrument.symbol,
            "client_order_id": client_order_id,
            "order_id": order.pk if order else None,
            "order_status": report.order_status,
            "order_quantity": order.quantity if order else None,
            "side": side,
            "quantity": quantity,
            "price": price,
            "venue": venue,
            "executed_at": executed_at,
            "reported_total": report.reported_total,
        },
    )
    return report


# --- raising alerts ---------------------------------------------------------------------------


def _capped_union(old: list, new) -> list:
    seen = dict.fromkeys(old)
    for value in new:
        if value is not None and len(seen) < EVIDENCE_MAX_IDS:
            seen.setdefault(value)
    return list(seen)


def _occurrences_add(alert: Alert, findings: list[Finding]) -> None:
    Occurrence.objects.bulk_create(
        [
            Occurrence(
                alert=alert,
                dedup_key=alert.dedup_key,
                seq=f.seq,
                at=_when(f.ts),
                title=f.title[:300],
                score=f.score,
            )
            for f in findings
        ]
    )


def _evidence(finding: Finding) -> dict[str, Any]:
    return {
        "orders": _capped_union([], finding.orders),
        "fills": _capped_union([], finding.fills),
        "executions": _capped_union([], finding.executions),
        "details": finding.details,
    }


def _alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "alert": alert.pk,
        "detector": alert.detector,
        "severity": alert.severity,
        "account": alert.account.code if alert.account else None,
        "instrument": alert.instrument.symbol if alert.instrument else None,
        "score": alert.score,
        "title": alert.title,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "orders": alert.evidence.get("orders", [])[:100],
        "fills": alert.evidence.get("fills", [])[:100],
        "executions": alert.evidence.get("executions", [])[:100],
    }


def _raise(finding: Finding, accounts, instruments) -> Alert:
    now = utcnow()
    alert = Alert(
        detector=finding.detector,
        severity=finding.severity,
        account=accounts.get(finding.account),
        instrument=instruments.get(finding.instrument),
        dedup_key=finding.key[:200],
        title=finding.title[:300],
        score=finding.score,
        evidence=_evidence(finding),
        window_start=_when(finding.window_start),
        window_end=_when(finding.window_end),
        first_seq=finding.seq,
        due_date=(now + timedelta(days=DUE_DAYS.get(finding.severity, 5))).date(),
    )
    alert.evidence = _json_ready(alert.evidence)
    alert.save()
    _occurrences_add(alert, [finding])
    AlertNote.objects.create(alert=alert, action="raised", text=alert.title)
    audit_record(
        event_type=EventType.SURVEILLANCE_ALERT,
        actor=CONTROL_NAME,
        object_type="surveillance.alert",
        object_id=alert.pk,
        payload=_alert_payload(alert),
    )
    alert_notify(
        kind=f"surveillance.{alert.detector}",
        severity=alert.severity,
        subject=(
            f"[{alert.severity}] Surveillance alert #{alert.pk}: {alert.get_detector_display()}"
        ),
        text=f"{alert.title}\n\nOpen the alert: /surveillance/alerts/{alert.pk}/",
        payload=_json_ready(_alert_payload(alert)),
        object_type="surveillance.alert",
        object_id=alert.pk,
    )
    return alert


def _json_ready(value):
    """Datetimes and decimals as the strings the API shows (JSONField and webhooks)."""
    from apps.audit.services import to_payload

    return to_payload(value)


def _add_to(alert: Alert, findings: list[Finding]) -> Alert:
    evidence = dict(alert.evidence)
    for finding in findings:
        evidence["orders"] = _capped_union(evidence.get("orders", []), finding.orders)
        evidence["fills"] = _capped_union(evidence.get("fills", []), finding.fills)
        evidence["executions"] = _capped_union(evidence.get("executions", []), finding.executions)
        alert.window_start = min(alert.window_start, _when(finding.window_start))
        alert.window_end = max(alert.window_end, _when(finding.window_end))
        alert.score = max(alert.score, finding.score)
        if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[alert.severity]:
            alert.severity = finding.severity
    alert.evidence = evidence
    alert.occurrences += len(findings)
    _occurrences_add(alert, findings)
    alert.save(
        update_fields=[
            "evidence",
            "window_start",
            "window_end",
            "score",
            "severity",
            "occurrences",
            "updated_at",
        ]
    )
    AlertNote.objects.create(
        alert=alert,
        action="recurred",
        text=f"{len(findings)} more occurrence(s); latest: {findings[-1].title}"[:2000],
    )
    audit_record(
        event_type=EventType.ALERT_UPDATED,
        actor=CONTROL_NAME,
        object_type="surveillance.alert",
        object_id=alert.pk,
        payload={
            "alert": alert.pk,
            "action": "recurred",
            "occurrences": alert.occurrences,
            "added": [f.seq for f in findings],
        },
    )
    return alert


def _loop_back(alert: Alert, config: DetectorConfig | None) -> KillSwitch | None:
    """Restrict the alert's account when the detector's settings say so for its severity."""
    if config is None or alert.account is None:
        return None
    action = config.action_for(alert.severity)
    if action == LoopBackAction.NONE:
        return None
    active = set(
        KillSwitch.objects.filter(
            is_active=True, scope=KillSwitchScope.ACCOUNT, target=alert.account.code
        ).values_list("state", flat=True)
    )
    if KillSwitchState.HALTED in active or action in active:
        return None  # already at least as restricted
    reason = f"Surveillance alert #{alert.pk} ({alert.detector}, {alert.severity}): {alert.title}"
    switch = kill_switch_activate(
        scope=KillSwitchScope.ACCOUNT,
        target=alert.account.code,
        state=action,
        reason=reason[:500],
        actor=None,
        control=CONTROL_NAME,
        source={"alert": alert.pk, "detector": alert.detector, "severity": alert.severity},
    )
    AlertNote.objects.create(
        alert=alert,
        action="kill_switch",
        text=f"Kill switch #{switch.pk}: account {alert.account.code} set to {action}.",
    )
    alert.evidence = {**alert.evidence, "kill_switch": switch.pk}
    alert.save(update_fields=["evidence", "updated_at"])
    return switch


def alerts_record(findings: list[Finding]) -> tuple[list[Alert], list[Alert]]:
    """Raise an alert per new pattern and add recurrences to the open alert of their pattern.

    Returns (raised, added to). Runs inside the surveillance run's transaction."""
    if findings:
        seen = set(
            Occurrence.objects.filter(seq__in={f.seq for f in findings}).values_list(
                "dedup_key", "seq"
            )
        )
        findings = [f for f in findings if (f.key[:200], f.seq) not in seen]
    if not findings:
        return [], []
    configs = detector_configs_ensure()
    codes = {f.account for f in findings if f.account}
    symbols = {f.instrument for f in findings if f.instrument}
    accounts = {a.code: a for a in Account.objects.filter(code__in=codes)}
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    by_key: dict[str, list[Finding]] = {}
    for finding in findings:
        by_key.setdefault(finding.key, []).append(finding)
    raised: list[Alert] = []
    added: list[Alert] = []
    for key, items in by_key.items():
        config = configs.get(items[0].detector)
        spec = DETECTORS[items[0].detector].params_spec
        dedup = float(params_validated(spec, config.params if config else {})["dedup_seconds"])
        current = (
            Alert.objects.select_for_update()
            .filter(dedup_key=key[:200])
            .exclude(status=AlertStatus.CLOSED)
            .order_by("-window_end", "-id")
            .first()
        )
        pending: list[Finding] = []
        for finding in items:
            recent = current is not None and (current.window_end.timestamp() >= finding.ts - dedup)
            if recent:
                pending.append(finding)
                continue
            if pending:
                added.append(_add_to(current, pending))
                pending = []
            current = _raise(finding, accounts, instruments)
            raised.append(current)
            _loop_back(current, config)
        if pending:
            alert = _add_to(current, pending)
            if alert not in raised:
                added.append(alert)
    return raised, added


# --- case work --------------------------------------------------------------------------------


def _locked(alert: Alert) -> Alert:
    found = Alert.objects.select_for_update().filter(pk=alert.pk).first()
    if found is None:
        raise NotFound("No such alert.", code="alert_not_found")
    return found


def _text(value, field: str, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise ValidationFailed(details=field_errors(**{field: "Required."}))
    if len(text) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            details=field_errors(**{field: f"At most {COMMENT_MAX_LENGTH} characters."})
        )
    if "\x00" in text:
        raise ValidationFailed(details=field_errors(**{field: "Must not contain NUL."}))
    return text


def _case_event(alert: Alert, actor, action: str, **extra) -> None:
    audit_record(
        event_type=EventType.ALERT_UPDATED,
        actor=actor,
        object_type="surveillance.alert",
        object_id=alert.pk,
        payload={"alert": alert.pk, "action": action, "status": alert.status, **extra},
    )


@transaction.atomic
def alert_assign(*, alert: Alert, assignee, actor) -> Alert:
    """Give the case to a Compliance Officer (or take it off them with `assignee=None`)."""
    require_role(actor, CASE_ROLE, "assign alerts")
    if assignee is not None and not has_role(assignee, CASE_ROLE):
        raise ValidationFailed(
            details=field_errors(assignee="Only a Compliance Officer or above can work alerts.")
        )
    alert = _locked(alert)
    before = alert.assignee.get_username() if alert.assignee else None
    alert.assignee = assignee
    alert.save(update_fields=["assignee", "updated_at"])
    after = assignee.get_username() if assignee else None
    AlertNote.objects.create(
        alert=alert, author=actor, action="assigned", text=f"Assigned to {after or 'nobody'}."
    )
    _case_event(alert, actor, "assigned", before=before, after=after)
    return alert


@transaction.atomic
def alert_comment(*, alert: Alert, text: str, actor) -> AlertNote:
    require_role(actor, CASE_ROLE, "comment on alerts")
    text = _text(text, "text", required=True)
    alert = _locked(alert)
    note = AlertNote.objects.create(alert=alert, author=actor, action="comment", text=text)
    alert.save(update_fields=["updated_at"])
    _case_event(alert, actor, "commented", note=note.pk, text=text)
    return note


@transaction.atomic
def alert_status_set(*, alert: Alert, status: str, actor, comment: str = "") -> Alert:
    """Move the case: open, in review, escalated; a closed case reopens to in review."""
    require_role(actor, CASE_ROLE, "work alerts")
    comment = _text(comment, "comment", required=False)
    if status not in AlertStatus.values or status == AlertStatus.CLOSED:
        allowed = ", ".join(s for s in AlertStatus.values if s != AlertStatus.CLOSED)
        raise ValidationFailed(
            details=field_errors(status=f"One of: {allowed} (close with a disposition).")
        )
    alert = _locked(alert)
    if status not in TRANSITIONS[alert.status]:
        raise Conflict(
            f"An alert that is {alert.status} cannot become {status}.",
            code="invalid_transition",
            details={"from": alert.status, "to": status},
        )
    previous = alert.status
    alert.status = status
    fields = ["status", "updated_at"]
    if previous == AlertStatus.CLOSED:
        alert.disposition = ""
        alert.closed_at = None
        alert.closed_by = None
        fields += ["disposition", "closed_at", "closed_by"]
    clean_or_raise(alert)
    alert.save(update_fields=fields)
    AlertNote.objects.create(
        alert=alert,
        author=actor,
        action=status,
        text=f"{previous} → {status}" + (f": {comment}" if comment else ""),
    )
    _case_event(alert, actor, "status", before=previous, after=status, comment=comment)
    return alert


@transaction.atomic
def alert_close(*, alert: Alert, disposition: str, actor, comment: str) -> Alert:
    """Close the case with a disposition and a reason (the false-positive rate reads these)."""
    require_role(actor, CASE_ROLE, "close alerts")
    errors: dict[str, list[str]] = {}
    if disposition not in Disposition.values:
        errors["disposition"] = [f"One of: {', '.join(Disposition.values)}."]
    try:
        comment = _text(comment, "comment", required=True)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(details=errors)
    alert = _locked(alert)
    if alert.status == AlertStatus.CLOSED:
        raise Conflict(
            "This alert is already closed.",
            code="alert_closed",
            details={"disposition": alert.disposition},
        )
    previous = alert.status
    alert.status = AlertStatus.CLOSED
    alert.disposition = disposition
    alert.closed_at = utcnow()
    alert.closed_by = actor
    clean_or_raise(alert)
    alert.save(update_fields=["status", "disposition", "closed_at", "closed_by", "updated_at"])
    AlertNote.objects.create(
        alert=alert,
        author=actor,
        action="closed",
        text=f"Closed as {alert.get_disposition_display()}: {comment}",
    )
    _case_event(alert, actor, "closed", before=previous, disposition=disposition, comment=comment)
    return alert
