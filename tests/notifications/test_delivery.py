"""Deliveries: signed webhooks to a real local server, retries with backoff, the callback."""

import hashlib
import hmac
import json
import logging
import time

import pytest

from apps.notifications import signing
from apps.notifications.models import Delivery
from apps.notifications.services import Webhook, delivery_attempt, notify, retry_delay
from apps.notifications.tasks import deliver
from tests.trading.factories import AccountFactory

SECRET = "whsec-test-7f3a9c1e-do-not-log"
CALLS: list[dict] = []


def record_callback(*, event, payload, delivery_id):
    CALLS.append({"event": event, "payload": payload, "delivery_id": delivery_id})


def failing_callback(**kwargs):
    raise RuntimeError("firm hook is down")


@pytest.fixture
def client_account(db, receiver):
    return AccountFactory(code="ACC-HOOK", webhook_url=receiver.url, webhook_secret=SECRET)


def send(django_capture_on_commit_callbacks, account, url=None, event="approval.approved"):
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = notify(
            event=event,
            payload={"order": {"id": 7, "status": "accepted"}},
            webhook=Webhook(url=url or account.webhook_url, secret_ref=f"account:{account.pk}"),
            object_type="approvals.approvalrequest",
            object_id=3,
        )
    assert len(deliveries) == 1
    return Delivery.objects.get(pk=deliveries[0].pk)


def test_webhook_is_signed_over_timestamp_and_body(
    client_account, receiver, django_capture_on_commit_callbacks
):
    delivery = send(django_capture_on_commit_callbacks, client_account)
    assert delivery.status == "sent" and delivery.attempts == 1
    assert delivery.response_status == 200 and delivery.sent_at is not None
    [hit] = receiver.hits
    headers, body = hit["headers"], hit["body"]
    assert headers["content-type"] == "application/json"
    assert headers["x-compliance-event"] == "approval.approved"
    assert headers["x-compliance-delivery"] == str(delivery.pk)
    timestamp = headers["x-compliance-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    # The receiver's check, from the documented rule alone.
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["x-compliance-signature"] == "sha256=" + expected.hexdigest()
    assert signing.webhook_signature_verify(
        SECRET, timestamp, body, headers["x-compliance-signature"]
    )
    message = json.loads(body)
    assert message == {
        "delivery_id": delivery.pk,
        "event": "approval.approved",
        "data": {"order": {"id": 7, "status": "accepted"}},
    }
    # Tampering, another key or a replay an hour later: refused.
    signature = headers["x-compliance-signature"]
    assert not signing.webhook_signature_verify(SECRET, timestamp, body + b" ", signature)
    assert not signing.webhook_signature_verify("other", timestamp, body, signature)
    assert not signing.webhook_signature_verify(
        SECRET, timestamp, body, signature, now=int(timestamp) + 3600
    )
    assert SECRET not in json.dumps(
        [delivery.payload, delivery.target, delivery.last_error, delivery.secret_ref]
    )


def test_receiver_answering_500_is_retried_with_backoff(
    client_account, receiver, retries, django_capture_on_commit_callbacks, settings
):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    receiver.statuses.extend([500, 503])
    delivery = send(django_capture_on_commit_callbacks, client_account)
    assert len(receiver.hits) == 3
    assert delivery.status == "sent" and delivery.attempts == 3
    assert retries == [30, 60]


def test_receiver_down_is_retried_then_recorded_as_failed(
    client_account,
    closed_port_url,
    retries,
    django_capture_on_commit_callbacks,
    settings,
    caplog,
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 5
    with caplog.at_level(logging.WARNING, logger="apps.notifications"):
        delivery = send(django_capture_on_commit_callbacks, client_account, url=closed_port_url)
    assert delivery.status == "failed" and delivery.attempts == 5
    assert delivery.last_error.startswith("Could not reach the receiver")
    assert delivery.next_attempt_at is None and delivery.sent_at is None
    assert retries == [30, 60, 120, 240]
    assert "notification not delivered" in caplog.text
    assert SECRET not in caplog.text


def test_a_4xx_answer_is_not_retried(
    client_account, receiver, retries, django_capture_on_commit_callbacks
):
    receiver.statuses.append(410)
    delivery = send(django_capture_on_commit_callbacks, client_account)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.response_status == 410 and "410" in delivery.last_error
    assert retries == []


def test_without_a_secret_nothing_is_sent_unsigned(
    receiver, django_capture_on_commit_callbacks, db
):
    account = AccountFactory(code="ACC-NOKEY", webhook_url=receiver.url, webhook_secret="")
    delivery = send(django_capture_on_commit_callbacks, account)
    assert delivery.status == "failed" and "unsigned" in delivery.last_error
    assert receiver.hits == []


def test_only_http_targets(db, django_capture_on_commit_callbacks):
    account = AccountFactory(code="ACC-FILE", webhook_secret=SECRET)
    delivery = send(django_capture_on_commit_callbacks, account, url="file:///etc/passwd")
    assert delivery.status == "failed" and "http" in delivery.last_error


def test_a_repeated_message_does_not_send_again(client_account, receiver):
    delivery = Delivery.objects.create(
        channel="webhook",
        event="approval.denied",
        target=receiver.url,
        secret_ref=f"account:{client_account.pk}",
    )
    deliver.delay(delivery.pk)
    deliver.delay(delivery.pk)
    assert len(receiver.hits) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1
    assert delivery_attempt(delivery_id=987654) == (None, None)


def test_the_firms_callback_gets_every_notification(
    db, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_CALLBACK = "tests.notifications.test_delivery.record_callback"
    CALLS.clear()
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify(event="approval.expired", payload={"approval": {"id": 4}})
    assert [
        {
            "event": "approval.expired",
            "payload": {"approval": {"id": 4}},
            "delivery_id": delivery.pk,
        }
    ] == CALLS
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"


def test_a_failing_callback_is_retried(db, settings, retries, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_CALLBACK = "tests.notifications.test_delivery.failing_callback"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify(event="approval.expired", payload={})
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "firm hook is down" in delivery.last_error and len(retries) == 2


def test_backoff_doubles_up_to_its_cap(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 200
    assert [retry_delay(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]


def test_a_broker_that_is_down_does_not_fail_the_change(
    client_account, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(deliver, "delay", down)
    delivery = send(django_capture_on_commit_callbacks, client_account)
    assert delivery.status == "pending" and delivery.attempts == 0
