"""The audit trail's unsigned tail: on the dashboard, and a critical alert when it is too old."""

from datetime import timedelta

import pytest

from apps.audit.events import EventType
from apps.audit.services import audit_record, checkpoint_create
from apps.core.time import utcnow
from apps.monitoring.services import audit_tail_check
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.rbac.services import user_create


@pytest.fixture
def officer(db):
    user = user_create(username="co", password="x-long-password-1", role=Role.COMPLIANCE_OFFICER)
    user.email = "officer@example.com"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def witnessed(officer, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.AUDIT_WITNESS_DIR = str(tmp_path)
    settings.AUDIT_MAX_UNSIGNED_SECONDS = 300
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    with django_capture_on_commit_callbacks(execute=True):
        return checkpoint_create()


def test_a_stale_tail_raises_one_critical_alert(witnessed, officer, settings):
    now = utcnow()
    assert audit_tail_check(now=now) is None  # nothing waits
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor="t",
        payload={},
        occurred_at=now - timedelta(seconds=200),
    )
    first = witnessed.tree_size + 1
    assert audit_tail_check(now=now) is None  # within the bound
    tail = audit_tail_check(now=now + timedelta(seconds=200))
    assert tail["unsigned_events"] >= 1 and tail["oldest_unsigned_seconds"] >= 400
    [delivery] = Delivery.objects.filter(event="audit_checkpoint_stale")
    assert delivery.object_id == str(first) and delivery.target == "officer@example.com"
    assert delivery.payload["severity"] == "critical"
    # The same stale tail does not alert again.
    assert audit_tail_check(now=now + timedelta(seconds=260)) is None
    assert Delivery.objects.filter(event="audit_checkpoint_stale").count() == 1


def test_a_checkpoint_that_is_not_witnessed_leaves_the_tail_stale(
    witnessed, officer, settings, tmp_path
):
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={})
    settings.AUDIT_WITNESS_DIR = str(tmp_path / "unwritable")
    checkpoint_create()  # signed, but its witness line is never written
    settings.AUDIT_WITNESS_DIR = str(tmp_path)
    assert audit_tail_check(now=utcnow() + timedelta(seconds=400)) is not None


def test_the_dashboard_shows_the_age_of_the_last_witnessed_checkpoint(witnessed, client, make_user):
    client.force_login(make_user(Role.RISK_MANAGER))
    html = client.get("/dashboard/").content.decode()
    assert 'id="checkpoint-witness-age"' in html
    data = client.get("/dashboard/data/").json()
    witness = data["latest_checkpoint"]["witness"]
    assert witness["witnessed"] is True and witness["tree_size"] == witnessed.tree_size
    assert 0 <= witness["age_seconds"] < 60
