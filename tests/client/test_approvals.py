"""A held order's outcome, by polling with backoff and by the platform's signed webhook, which
the client's receiver verifies (and a forged one it refuses)."""

import json
import time

import httpx
import pytest
from compliance_client import PendingOrder, WaitTimeout, WebhookReceiver, WebhookSignatureError
from compliance_client.webhooks import parse_webhook, sign, verify_signature

from apps.notifications.signing import webhook_signature
from apps.trading.models import Account
from tests.client.conftest import order

SECRET = "whsec-client-tests-5e2a"


def decide(desk, approval_id: int, decision: str, comment: str) -> dict:
    response = httpx.post(
        f"{desk.url}/api/v1/approvals/{approval_id}/{decision}/",
        json={"comment": comment},
        headers={"Authorization": f"Token {desk.tokens['officer']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_polling_sees_the_approval_and_releases_the_order(desk, client_for):
    client = client_for("trader", on_reject=None)
    held_order = order("poll-1", quantity="100")
    held = client.gate(held_order)
    assert isinstance(held, PendingOrder) and held.poll() is None
    with pytest.raises(WaitTimeout):
        client.wait_for_approval(held.order_id, timeout=0.3, interval=0.05)
    decide(desk, held.decision.approval.id, "approve", "Within mandate.")
    outcome = held.wait(timeout=10)
    assert outcome.approved and outcome.order_status == "accepted"
    assert outcome.approval_id == held.decision.approval.id
    assert held.released() is held_order


def test_polling_sees_a_denial(desk, client_for):
    client = client_for("trader", on_reject=None)
    held = client.gate(order("poll-2", quantity="100"))
    decide(desk, held.decision.approval.id, "deny", "Too large today.")
    outcome = client.wait_for_approval(held.order_id, timeout=10, interval=0.05)
    assert (outcome.status, outcome.order_status) == ("denied", "rejected")
    assert held.released() is None


@pytest.fixture
def receiver(desk):
    with WebhookReceiver(SECRET, path="/hooks/compliance") as receiver:
        Account.objects.filter(pk=desk.account.pk).update(
            webhook_url=receiver.url, webhook_secret=SECRET
        )
        yield receiver


def test_the_signed_webhook_is_verified_and_reports_the_outcome(desk, client_for, receiver):
    held = client_for("trader", on_reject=None).gate(order("hook-1", quantity="100"))
    decide(desk, held.decision.approval.id, "approve", "Desk head confirmed.")
    outcome = receiver.wait_for(held.order_id, timeout=15)
    assert outcome.source == "webhook" and outcome.approved
    assert (outcome.decided_by, outcome.comment) == ("officer", "Desk head confirmed.")
    assert outcome.order_status == "accepted"
    [event] = receiver.events
    assert event.event == "approval.approved" and isinstance(event.delivery_id, int)
    assert receiver.refused == 0


def test_a_forged_webhook_is_refused(desk, receiver):
    now = str(int(time.time()))
    body = json.dumps(
        {
            "delivery_id": 991,
            "event": "approval.approved",
            "data": {"approval": {"id": 1, "status": "approved"}, "order": {"id": 77}},
        }
    ).encode()

    def post(body: bytes, timestamp: str, signature: str) -> int:
        headers = {
            "Content-Type": "application/json",
            "X-Compliance-Timestamp": timestamp,
            "X-Compliance-Signature": signature,
        }
        return httpx.post(receiver.url, content=body, headers=headers, timeout=5).status_code

    assert post(body, now, sign("a-guessed-secret", now, body)) == 401
    assert post(body, now, "sha256=" + "0" * 64) == 401
    assert post(body, now, "") == 401
    tampered = body.replace(b'"id": 77', b'"id": 78')
    assert post(tampered, now, sign(SECRET, now, body)) == 401
    stale = str(int(time.time()) - 3600)  # a replay of an old message
    assert post(body, stale, sign(SECRET, stale, body)) == 401
    assert receiver.refused == 5 and receiver.events == [] and receiver.outcome(77) is None

    # The genuine article goes through, once, however often it is delivered.
    assert post(body, now, sign(SECRET, now, body)) == 200
    assert post(body, now, sign(SECRET, now, body)) == 200
    assert len(receiver.events) == 1 and receiver.outcome(77).approved


def test_the_client_and_the_platform_agree_on_the_signature():
    body, timestamp = b'{"event": "approval.denied"}', "1795258800"
    assert sign(SECRET, timestamp, body) == webhook_signature(SECRET, timestamp, body)
    signature = webhook_signature(SECRET, timestamp, body)
    assert verify_signature(SECRET, timestamp, body, signature, now=1795258800 + 299)
    assert not verify_signature(SECRET, timestamp, body, signature, now=1795258800 + 301)
    assert not verify_signature("", timestamp, body, signature, now=1795258800)
    headers = {"x-compliance-timestamp": timestamp, "x-compliance-signature": signature}
    assert parse_webhook(SECRET, headers, body, now=1795258800).event == "approval.denied"
    with pytest.raises(WebhookSignatureError):
        parse_webhook(SECRET, headers, body + b" ", now=1795258800)
