"""Who hears about a held order: the Compliance Officers by email (through a real SMTP server
here), the client by its signed webhook when the request is decided, expires or is canceled."""

import json
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_expire_due
from apps.core.time import utcnow
from apps.notifications import signing
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.rbac.services import user_create
from apps.trading.models import Account
from tests.notifications.conftest import (  # noqa: F401 - fixtures
    closed_port_url,
    free_port,
    receiver,
)

SECRET = "whsec-approvals-3b1d"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.DEFAULT_FROM_EMAIL = "compliance-gate@firm.example"
    settings.SITE_URL = "https://compliance.firm.example"
    yield inbox
    controller.stop()


def test_new_request_emails_the_compliance_officers_through_smtp(
    smtp_server, submit_held, django_capture_on_commit_callbacks
):
    for name, role, email in [
        ("officer-a", Role.COMPLIANCE_OFFICER, "a@firm.example"),
        ("officer-b", Role.COMPLIANCE_OFFICER, "b@firm.example"),
        ("officer-c", Role.COMPLIANCE_OFFICER, ""),  # no address: skipped
        ("risk-d", Role.RISK_MANAGER, "d@firm.example"),  # not an approver
    ]:
        user_create(username=name, password="x-long-password-1", role=role, email=email)
    with django_capture_on_commit_callbacks(execute=True):
        answer = submit_held()
    recipients = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert recipients == ["a@firm.example", "b@firm.example"]
    mail = message_from_bytes(smtp_server.messages[0].content)
    assert mail["From"] == "compliance-gate@firm.example"
    assert mail["Subject"] == f"Held for approval: buy 10 AAPL on ACC-T1 (order {answer['id']})"
    text = mail.get_payload(decode=True).decode()
    assert f"https://compliance.firm.example/approvals/{answer['approval']['id']}/" in text
    assert "Notional 1000 USD is above the approval threshold 500 USD." in text
    deliveries = Delivery.objects.filter(channel="email", event="approval.requested")
    assert sorted(deliveries.values_list("status", flat=True)) == ["sent", "sent"]


def test_decision_reaches_the_client_by_signed_webhook(
    receiver,  # noqa: F811 - fixture
    submit_held,
    officer,
    account,
    django_capture_on_commit_callbacks,
):
    Account.objects.filter(pk=account.pk).update(webhook_url=receiver.url, webhook_secret=SECRET)
    answer = submit_held()
    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(
            f"/api/v1/approvals/{answer['approval']['id']}/approve/",
            {"comment": "Fine."},
            format="json",
        )
    assert response.status_code == 200
    [hit] = receiver.hits
    headers = hit["headers"]
    assert signing.webhook_signature_verify(
        SECRET, headers["x-compliance-timestamp"], hit["body"], headers["x-compliance-signature"]
    )
    message = json.loads(hit["body"])
    assert message["event"] == "approval.approved"
    assert message["data"]["order"] == {
        **message["data"]["order"],
        "id": answer["id"],
        "client_order_id": "held-1",
        "status": "accepted",
    }
    assert message["data"]["approval"]["decided_by"] == officer.user.username
    assert message["data"]["approval"]["comment"] == "Fine."


def test_a_webhook_that_is_down_never_blocks_the_decision(
    closed_port_url,  # noqa: F811 - fixture
    submit_held,
    officer,
    account,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    Account.objects.filter(pk=account.pk).update(webhook_url=closed_port_url, webhook_secret=SECRET)
    answer = submit_held()
    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(
            f"/api/v1/approvals/{answer['approval']['id']}/deny/",
            {"comment": "No."},
            format="json",
        )
    assert response.status_code == 200 and response.json()["status"] == "denied"
    delivery = Delivery.objects.get(channel="webhook")
    assert delivery.event == "approval.denied"
    assert delivery.status == "failed" and delivery.attempts == 2
    assert delivery.object_id == str(answer["approval"]["id"])


def test_expiry_and_cancel_reach_the_client_too(
    receiver,  # noqa: F811 - fixture
    submit_held,
    trader,
    account,
    django_capture_on_commit_callbacks,
):
    Account.objects.filter(pk=account.pk).update(webhook_url=receiver.url, webhook_secret=SECRET)
    expiring, canceled = submit_held("exp"), submit_held("can")
    ApprovalRequest.objects.filter(pk=expiring["approval"]["id"]).update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert approval_expire_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        trader.post(f"/api/v1/orders/{canceled['id']}/cancel/", format="json")
    events = [json.loads(h["body"])["event"] for h in receiver.hits]
    assert events == ["approval.expired", "approval.canceled"]
    statuses = [json.loads(h["body"])["data"]["order"]["status"] for h in receiver.hits]
    assert statuses == ["expired", "canceled"]


def test_an_account_without_a_webhook_gets_no_delivery(
    submit_held, officer, django_capture_on_commit_callbacks
):
    answer = submit_held()
    with django_capture_on_commit_callbacks(execute=True):
        officer.post(
            f"/api/v1/approvals/{answer['approval']['id']}/deny/", {"comment": "No."}, format="json"
        )
    assert not Delivery.objects.filter(channel="webhook").exists()
