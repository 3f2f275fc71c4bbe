"""Sending notifications: a delivery record per message, sent after the change commits.

`notify` records the deliveries in the caller's transaction and hands each to the worker once
that transaction commits (`transaction.on_commit`, robust): a receiver that is down or slow
never holds up, or rolls back, the change it reports. `delivery_attempt` makes one attempt;
the task schedules the next one with exponential backoff until it succeeds or runs out.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from apps.audit.events import EventType
from apps.audit.services import audit_record, update_audited
from apps.core.metrics import ALERT_DELIVERY
from apps.core.time import utcnow
from apps.core.validation import clean_or_raise
from apps.notifications.channels import SENDERS, DeliveryError
from apps.notifications.models import (
    OPEN_STATUSES,
    Channel,
    Delivery,
    DeliveryStatus,
    RoutingRule,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_ref: str  # e.g. "account:12"; the key itself is looked up when sending


def _enqueue(delivery_id: int) -> None:
    from apps.notifications.tasks import deliver

    deliver.delay(delivery_id)


def delivery_create(
    *,
    channel: str,
    event: str,
    target: str,
    payload: dict,
    subject: str = "",
    secret_ref: str = "",
    object_type: str = "",
    object_id: str | int = "",
) -> Delivery:
    delivery = Delivery.objects.create(
        channel=channel,
        event=event,
        target=target[:500],
        subject=subject[:300],
        payload=payload,
        secret_ref=secret_ref,
        object_type=object_type,
        object_id=str(object_id),
    )
    # robust: a broker that is down is logged, never raised into the committed change.
    transaction.on_commit(lambda: _enqueue(delivery.pk), robust=True)
    return delivery


def notify(
    *,
    event: str,
    payload: dict,
    subject: str = "",
    text: str = "",
    emails: list[str] | tuple[str, ...] = (),
    webhook: Webhook | None = None,
    object_type: str = "",
    object_id: str | int = "",
) -> list[Delivery]:
    """One delivery per email address, one for the webhook, and one for the firm's callback
    (settings.NOTIFICATIONS_CALLBACK) when there is one."""
    about = {"object_type": object_type, "object_id": object_id}
    deliveries = [
        delivery_create(
            channel=Channel.EMAIL,
            event=event,
            target=address,
            subject=subject,
            payload={"text": text},
            **about,
        )
        for address in dict.fromkeys(emails)  # each address once, in order
        if address
    ]
    if webhook is not None and webhook.url:
        deliveries.append(
            delivery_create(
                channel=Channel.WEBHOOK,
                event=event,
                target=webhook.url,
                payload=payload,
                secret_ref=webhook.secret_ref,
                **about,
            )
        )
    callback = settings.NOTIFICATIONS_CALLBACK
    if callback:
        deliveries.append(
            delivery_create(
                channel=Channel.CALLBACK, event=event, target=callback, payload=payload, **about
            )
        )
    return deliveries


def audit_witness_send(*, line: dict) -> int:
    """The further witnesses of a signed audit checkpoint (fills apps.audit.hooks
    .checkpoint_witness_send): the witness line mailed to AUDIT_WITNESS_EMAILS and posted,
    signed, to AUDIT_WITNESS_WEBHOOK_URL. Returns how many deliveries were queued."""
    import json

    from apps.notifications.secrets import AUDIT_WITNESS_REF

    about = {"object_type": "audit.checkpoint", "object_id": line["tree_size"]}
    text = json.dumps(line, separators=(",", ":"))
    subject = f"Audit checkpoint {line['tree_size']} ({line['log_id']})"
    count = 0
    with transaction.atomic():
        for address in dict.fromkeys(settings.AUDIT_WITNESS_EMAILS):
            if address:
                delivery_create(
                    channel=Channel.EMAIL,
                    event="audit.checkpoint",
                    target=address,
                    subject=subject,
                    payload={"text": text},
                    **about,
                )
                count += 1
        if settings.AUDIT_WITNESS_WEBHOOK_URL:
            delivery_create(
                channel=Channel.WEBHOOK,
                event="audit.checkpoint",
                target=settings.AUDIT_WITNESS_WEBHOOK_URL,
                payload=line,
                secret_ref=AUDIT_WITNESS_REF,
                **about,
            )
            count += 1
    return count


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: base, 2 x base, 4 x base..."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_SECONDS)


def delivery_attempt(*, delivery_id: int) -> tuple[Delivery | None, int | None]:
    """One attempt. Returns the delivery and, when it is to be tried again, in how many seconds.

    No transaction is held while the receiver is called (SQLite would block every writer)."""
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=OPEN_STATUSES).update(
        attempts=F("attempts") + 1, updated_at=utcnow()
    )
    if not claimed:  # unknown, or already sent or given up: a repeated message does nothing
        return Delivery.objects.filter(pk=delivery_id).first(), None
    delivery = Delivery.objects.get(pk=delivery_id)
    retry_in = None
    try:
        status = SENDERS[Channel(delivery.channel)](delivery)
    except DeliveryError as exc:
        delivery.last_error = str(exc)
        delivery.response_status = exc.status
        if exc.retryable and delivery.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
            retry_in = retry_delay(delivery.attempts)
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        logger.warning(
            "notification not delivered",
            extra={
                "delivery": delivery.pk,
                "channel": delivery.channel,
                "event": delivery.event,
                "attempt": delivery.attempts,
                "error": delivery.last_error,
                "retry_in": retry_in,
            },
        )
    else:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = utcnow()
        delivery.next_attempt_at = None
        delivery.response_status = status if isinstance(status, int) else None
    severity = delivery.payload.get("severity") if isinstance(delivery.payload, dict) else None
    ALERT_DELIVERY.labels(delivery.channel, severity or "none", delivery.status).inc()
    delivery.save(
        update_fields=[
            "status",
            "last_error",
            "response_status",
            "next_attempt_at",
            "sent_at",
            "updated_at",
        ]
    )
    return delivery, retry_in


def staff_emails(role) -> list[str]:
    """Addresses of the active users holding `role` (an apps.rbac Role)."""
    from django.contrib.auth import get_user_model

    rows = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role.group_name)
        .exclude(email="")
        .order_by("username")
        .values_list("email", flat=True)
    )
    return list(rows)


def _alert_deliveries_for(rule: RoutingRule, *, officers: list[str]) -> list[tuple[str, str]]:
    """(channel, target) pairs one routing rule asks for; none when the channel is not set up
    (no Slack URL, no Telegram token or chat, no PagerDuty key)."""
    if rule.channel == Channel.EMAIL:
        return [
            (Channel.EMAIL, address) for address in ([rule.target] if rule.target else officers)
        ]
    if rule.channel == Channel.SLACK and settings.SLACK_WEBHOOK_URL:
        return [(Channel.SLACK, "SLACK_WEBHOOK_URL")]
    if rule.channel == Channel.TELEGRAM and settings.TELEGRAM_BOT_TOKEN:
        chat = rule.target or settings.TELEGRAM_CHAT_ID
        return [(Channel.TELEGRAM, chat)] if chat else []
    if rule.channel == Channel.PAGERDUTY and settings.PAGERDUTY_ROUTING_KEY:
        return [(Channel.PAGERDUTY, "PAGERDUTY_ROUTING_KEY")]
    return []


def alert_routes(*, kind: str, severity: str) -> list[tuple[str, str]]:
    """Where an alert of this kind and severity goes: every active routing rule that matches,
    each (channel, target) once. When none of them reaches a configured channel, email to the
    Compliance Officers: an alert is never sent nowhere."""
    from apps.rbac.roles import Role

    rules = [
        r
        for r in RoutingRule.objects.filter(is_active=True)
        if r.matches(kind=kind, severity=severity)
    ]
    officers: list[str] | None = None
    routes: dict[tuple[str, str], None] = {}
    for rule in rules:
        if rule.channel == Channel.EMAIL and officers is None:
            officers = staff_emails(Role.COMPLIANCE_OFFICER)
        for route in _alert_deliveries_for(rule, officers=officers or []):
            routes[route] = None
    if not routes:
        for address in staff_emails(Role.COMPLIANCE_OFFICER):
            routes[(Channel.EMAIL, address)] = None
    return list(routes)


def alert_notify(
    *,
    kind: str,
    severity: str,
    subject: str,
    text: str,
    payload: dict,
    object_type: str = "",
    object_id: str | int = "",
) -> list[Delivery]:
    """Tell staff about an alert (a surveillance finding, a limit breach), by its kind and
    severity ("critical", "warning", "info"), through the channels the routing rules choose.
    Recorded in the caller's transaction; sent once it commits."""
    body = {"kind": kind, "severity": severity, "text": text, **payload}
    about = {"object_type": object_type, "object_id": object_id}
    deliveries = [
        delivery_create(
            channel=channel,
            event=kind,
            target=target,
            subject=subject,
            payload=body if channel != Channel.EMAIL else {"text": text, "severity": severity},
            **about,
        )
        for channel, target in alert_routes(kind=kind, severity=severity)
    ]
    callback = settings.NOTIFICATIONS_CALLBACK
    if callback:
        deliveries.append(
            delivery_create(
                channel=Channel.CALLBACK, event=kind, target=callback, payload=body, **about
            )
        )
    return deliveries


# --- routing rules (back office) ----------------------------------------------------------------

ROUTING_FIELDS = ("name", "severity", "kind", "channel", "target", "is_active")


def _routing_fields(rule: RoutingRule) -> dict:
    return {name: getattr(rule, name) for name in ROUTING_FIELDS}


@transaction.atomic
def routing_rule_save(*, actor, rule: RoutingRule) -> RoutingRule:
    """Create or change a routing rule (a staff-alert configuration change, audited)."""
    from apps.rbac.access import require_role
    from apps.rbac.roles import Role

    require_role(actor, Role.COMPLIANCE_OFFICER, "change alert routing")
    rule.target = rule.target.strip()
    rule.kind = rule.kind.strip()
    stored = None
    if rule.pk is not None:
        stored = RoutingRule.objects.select_for_update().filter(pk=rule.pk).first()
    if stored is not None:
        return update_audited(
            stored,
            changes=_routing_fields(rule),
            actor=actor,
            payload={"change": "updated"},
            snapshot=_routing_fields,
        )
    clean_or_raise(rule)
    rule.save()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=rule._meta.label_lower,
        object_id=rule.pk,
        payload={"change": "created", "before": None, "after": _routing_fields(rule)},
    )
    return rule
