"""The channels: each sends one delivery, or raises DeliveryError saying whether to retry.

Error texts end up in the delivery record and the logs: they name the failure, never a key or
a header.
"""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string

from apps.notifications import secrets, signing
from apps.notifications.models import Channel, Delivery

ERROR_MAX_LENGTH = 500
MAX_ANSWER_BYTES = 64 * 1024
# Worth another try: the receiver may be back later. Any other 4xx is the request's fault.
RETRYABLE_STATUSES = {408, 425, 429}


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message[:ERROR_MAX_LENGTH])
        self.retryable = retryable
        self.status = status


def _json(message: dict) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


def webhook_body(delivery: Delivery) -> bytes:
    """What the receiver gets: the delivery id (to drop repeats), the event and its data."""
    return _json({"delivery_id": delivery.pk, "event": delivery.event, "data": delivery.payload})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: the signed body goes only where it was addressed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST a JSON body; the status and the answer's body, or DeliveryError. The URL never
    appears in an error text (Telegram's carries the bot token)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("The URL must be http or https.", retryable=False)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "trade-compliance-webhooks/1",
            **(headers or {}),
        },
    )
    timeout = settings.NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in RETRYABLE_STATUSES
        raise DeliveryError(
            f"The receiver answered {exc.code} {exc.reason}.", retryable=retryable, status=exc.code
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"Could not reach the receiver: {reason}.", retryable=True) from None


def send_webhook(delivery: Delivery) -> int:
    if urlsplit(delivery.target).scheme not in ("http", "https"):
        raise DeliveryError("The webhook URL must be http or https.", retryable=False)
    try:
        secret = secrets.resolve(delivery.secret_ref)
    except secrets.SecretUnavailable as exc:
        raise DeliveryError(f"Not sent unsigned: {exc}.", retryable=False) from None
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))
    status, _answer = post_json(
        delivery.target,
        body,
        {
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.webhook_signature(secret, timestamp, body),
            signing.EVENT_HEADER: delivery.event,
            signing.DELIVERY_HEADER: str(delivery.pk),
        },
    )
    return status


# --- staff alert channels -----------------------------------------------------------------------
# Their addresses and keys are settings, read when sending: never stored on a delivery.


def _not_configured(name: str) -> DeliveryError:
    return DeliveryError(f"{name} is not set: nothing to send to.", retryable=False)


def _alert_line(delivery: Delivery) -> str:
    severity = str(delivery.payload.get("severity", "")).upper()
    return f"[{severity}] {delivery.subject}" if severity else delivery.subject


def slack_message(delivery: Delivery) -> dict:
    """Slack's incoming-webhook body: `text` (the notification line) and blocks."""
    payload = delivery.payload
    context = f"*{payload.get('severity', '')}* · `{delivery.event}`"
    if delivery.object_type:
        context += f" · {delivery.object_type} {delivery.object_id}"
    return {
        "text": _alert_line(delivery),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": delivery.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": payload.get("text", "")[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def send_slack(delivery: Delivery) -> int:
    url = settings.SLACK_WEBHOOK_URL
    if not url:
        raise _not_configured("SLACK_WEBHOOK_URL")
    status, _answer = post_json(url, _json(slack_message(delivery)))
    return status


def telegram_message(delivery: Delivery) -> dict:
    """The Bot API's sendMessage body (plain text: nothing to escape)."""
    text = f"{_alert_line(delivery)}\n\n{delivery.payload.get('text', '')}".strip()
    return {
        "chat_id": delivery.target,
        "text": text[:4096],
        "disable_web_page_preview": True,
    }


def send_telegram(delivery: Delivery) -> int:
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise _not_configured("TELEGRAM_BOT_TOKEN")
    url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
    status, answer = post_json(url, _json(telegram_message(delivery)))
    try:
        ok = json.loads(answer or b"{}").get("ok", False)
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise DeliveryError("Telegram answered without ok: true.", retryable=False, status=status)
    return status


PAGERDUTY_SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}


def pagerduty_event(delivery: Delivery, routing_key: str) -> dict:
    """An Events API v2 trigger. The dedup key is the alerted object, so a repeat of the same
    breach updates one incident instead of opening another."""
    payload = delivery.payload
    about = f"{delivery.object_type}:{delivery.object_id}" if delivery.object_type else ""
    details = {k: v for k, v in payload.items() if k != "text"}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": about or f"delivery:{delivery.pk}",
        "payload": {
            "summary": delivery.subject[:1024] or delivery.event,
            "source": urlsplit(settings.SITE_URL).hostname or "trade-compliance",
            "severity": PAGERDUTY_SEVERITIES.get(payload.get("severity"), "error"),
            "timestamp": delivery.created_at.isoformat().replace("+00:00", "Z"),
            "component": "trade-compliance",
            "group": delivery.object_type or "alerts",
            "class": delivery.event,
            "custom_details": {**details, "text": payload.get("text", "")},
        },
        "links": [{"href": settings.SITE_URL + "/dashboard/", "text": "Compliance dashboard"}],
    }


def send_pagerduty(delivery: Delivery) -> int:
    key = settings.PAGERDUTY_ROUTING_KEY
    if not key:
        raise _not_configured("PAGERDUTY_ROUTING_KEY")
    status, _answer = post_json(
        settings.PAGERDUTY_EVENTS_URL, _json(pagerduty_event(delivery, key))
    )
    return status


def send_email(delivery: Delivery) -> None:
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.payload.get("text", ""),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.target],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - smtplib errors and network errors alike
        raise DeliveryError(
            f"The mail server refused or could not be reached: {type(exc).__name__}: {exc}",
            retryable=True,
        ) from None


def send_callback(delivery: Delivery) -> None:
    try:
        callback = import_string(delivery.target)
    except ImportError as exc:
        raise DeliveryError(f"The callback cannot be imported: {exc}", retryable=False) from None
    try:
        callback(event=delivery.event, payload=delivery.payload, delivery_id=delivery.pk)
    except Exception as exc:  # noqa: BLE001 - the firm's own code: any error is retried
        raise DeliveryError(
            f"The callback raised {type(exc).__name__}: {exc}", retryable=True
        ) from None


SENDERS = {
    Channel.WEBHOOK: send_webhook,
    Channel.EMAIL: send_email,
    Channel.CALLBACK: send_callback,
    Channel.SLACK: send_slack,
    Channel.TELEGRAM: send_telegram,
    Channel.PAGERDUTY: send_pagerduty,
}
