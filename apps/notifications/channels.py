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
# Worth another try: the receiver may be back later. Any other 4xx is the request's fault.
RETRYABLE_STATUSES = {408, 425, 429}


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message[:ERROR_MAX_LENGTH])
        self.retryable = retryable
        self.status = status


def webhook_body(delivery: Delivery) -> bytes:
    """What the receiver gets: the delivery id (to drop repeats), the event and its data."""
    message = {"delivery_id": delivery.pk, "event": delivery.event, "data": delivery.payload}
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: the signed body goes only where it was addressed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def send_webhook(delivery: Delivery) -> int:
    if urlsplit(delivery.target).scheme not in ("http", "https"):
        raise DeliveryError("The webhook URL must be http or https.", retryable=False)
    try:
        secret = secrets.resolve(delivery.secret_ref)
    except secrets.SecretUnavailable as exc:
        raise DeliveryError(f"Not sent unsigned: {exc}.", retryable=False) from None
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        delivery.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "trade-compliance-webhooks/1",
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.webhook_signature(secret, timestamp, body),
            signing.EVENT_HEADER: delivery.event,
            signing.DELIVERY_HEADER: str(delivery.pk),
        },
    )
    timeout = settings.NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in RETRYABLE_STATUSES
        raise DeliveryError(
            f"The receiver answered {exc.code} {exc.reason}.", retryable=retryable, status=exc.code
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"Could not reach the receiver: {reason}.", retryable=True) from None


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
}
