"""Further witnesses of the audit trail: every signed checkpoint's witness line is mailed to the
compliance mailbox and posted, signed, to an outside service, when the settings name them."""

import json

import pytest
from django.core import mail

from apps.audit.events import EventType
from apps.audit.services import audit_record, checkpoint_create
from apps.notifications import signing
from apps.notifications.models import Delivery

SECRET = "whsec-audit-witness-test"


@pytest.fixture
def witnesses(db, settings, receiver, tmp_path):
    settings.AUDIT_WITNESS_DIR = str(tmp_path)
    settings.AUDIT_WITNESS_EMAILS = ["compliance@example.com"]
    settings.AUDIT_WITNESS_WEBHOOK_URL = receiver.url
    settings.AUDIT_WITNESS_WEBHOOK_SECRET = SECRET
    return receiver


def test_each_checkpoint_is_mailed_and_posted_signed(
    witnesses, tmp_path, django_capture_on_commit_callbacks
):
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint = checkpoint_create()
    assert checkpoint is not None
    [email] = mail.outbox
    assert email.to == ["compliance@example.com"]
    assert f"Audit checkpoint {checkpoint.tree_size}" in email.subject
    line = json.loads(email.body)
    assert (line["tree_size"], line["root_hash"], line["signature"]) == (
        checkpoint.tree_size,
        checkpoint.root_hash,
        checkpoint.signature,
    )
    [hit] = witnesses.hits
    headers, body = hit["headers"], hit["body"]
    assert headers["x-compliance-event"] == "audit.checkpoint"
    assert signing.webhook_signature_verify(
        SECRET, headers["x-compliance-timestamp"], body, headers["x-compliance-signature"]
    )
    assert json.loads(body)["data"] == line
    # the same line as in the witness directory
    [on_disk] = [p.read_text() for p in tmp_path.glob("witness-*.jsonl")]
    assert json.loads(on_disk) == line
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_without_the_secret_the_webhook_is_not_sent_unsigned(
    witnesses, settings, django_capture_on_commit_callbacks
):
    settings.AUDIT_WITNESS_WEBHOOK_SECRET = ""
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint_create()
    assert witnesses.hits == []
    webhook = Delivery.objects.get(channel="webhook", event="audit.checkpoint")
    assert webhook.status == "failed"


def test_no_further_witness_by_default(db, django_capture_on_commit_callbacks):
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    with django_capture_on_commit_callbacks(execute=True):
        assert checkpoint_create() is not None
    assert not Delivery.objects.filter(event="audit.checkpoint").exists()
    assert mail.outbox == []
