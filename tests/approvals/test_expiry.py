"""Expiry by the beat job, closing when the held order is canceled, and the decision/expiry race."""

import json
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import OBJECT_TYPE, approval_decide, approval_expire_due
from apps.approvals.tasks import expire_due
from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.core.time import utcnow
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.trading.models import Account, Order
from apps.trading.services import order_cancel, order_status_set
from config.celery import app


def test_the_beat_job_is_scheduled():
    spec = settings.PERIODIC_TASKS["approval expiry"]
    assert spec["task"] == "approvals.expire_due" and spec["every"] <= 60
    app.loader.import_default_modules()
    assert "approvals.expire_due" in app.tasks


def test_due_requests_expire_and_their_orders_too(submit_held):
    due = submit_held("due")
    later = submit_held("later")
    ApprovalRequest.objects.filter(pk=due["approval"]["id"]).update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    assert expire_due.delay().get() == 1
    assert ApprovalRequest.objects.get(pk=due["approval"]["id"]).status == "expired"
    assert Order.objects.get(pk=due["id"]).status == "expired"
    assert ApprovalRequest.objects.get(pk=later["approval"]["id"]).status == "pending"
    expired = AuditEvent.objects.get(event_type="APPROVAL_EXPIRED")
    assert expired.actor == "task:approvals.expire_due"
    assert AuditEvent.objects.filter(event_type="ORDER_EXPIRED").count() == 1
    assert approval_expire_due() == 0  # nothing more is due


def test_per_rule_ttl_sets_the_expiry(submit_held):
    answer = submit_held()
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert (approval.expires_at - approval.requested_at).total_seconds() == 300


def test_cancel_api_closes_the_request(trader, submit_held):
    answer = submit_held()
    response = trader.post(f"/api/v1/orders/{answer['id']}/cancel/", format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["approval"]["status"] == "canceled"
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert approval.status == "canceled" and approval.decided_by is None
    canceled = AuditEvent.objects.get(event_type="APPROVAL_CANCELED")
    assert canceled.actor == trader.user.username and '"reason":"api"' in canceled.record


def test_any_cancel_of_a_held_order_closes_its_request(submit_held, make_user):
    # The back office cancels through trading's service, which knows nothing of approvals.
    answer = submit_held()
    officer = make_user(Role.COMPLIANCE_OFFICER)
    order_cancel(order=Order.objects.get(pk=answer["id"]), actor=officer, reason="admin")
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert approval.status == "canceled"
    canceled = AuditEvent.objects.get(event_type="APPROVAL_CANCELED")
    assert canceled.actor == officer.username and '"reason":"admin"' in canceled.record


def test_kill_switch_cancel_closes_the_request(submit_held, make_user, account):
    from apps.killswitch.services import kill_switch_activate

    answer = submit_held()
    kill_switch_activate(
        scope="account",
        target=account.code,
        state="halted",
        reason="Desk closed",
        actor=make_user(Role.RISK_MANAGER),
        cancel_working=True,
    )
    assert Order.objects.get(pk=answer["id"]).status == "canceled"
    assert ApprovalRequest.objects.get(pk=answer["approval"]["id"]).status == "canceled"
    assert AuditEvent.objects.filter(event_type="APPROVAL_CANCELED").count() == 1


def _closing(answer: dict) -> dict:
    """What ending a held order did to its request: its status, the approval events after the
    request (type, actor, reason, the order's status), and what the client was sent."""
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    events = AuditEvent.objects.filter(object_type=OBJECT_TYPE, object_id=str(approval.pk))
    return {
        "status": approval.status,
        "decided_by": approval.decided_by_id,
        "events": [
            (e.event_type, e.actor, json.loads(e.record)["payload"].get("reason"))
            for e in events.exclude(event_type="APPROVAL_REQUESTED").order_by("seq")
        ],
        "sent": list(
            Delivery.objects.filter(object_type=OBJECT_TYPE, object_id=str(approval.pk))
            .exclude(event="approval.requested")
            .values_list("event", flat=True)
        ),
    }


@pytest.mark.parametrize("status", ["expired", "canceled", "rejected", "accepted"])
def test_a_held_order_ended_by_a_status_change_closes_its_request_as_a_cancel_does(
    status, submit_held, make_user, account
):
    """Whatever path ends a held order (here trading's own status change, which knows nothing
    of approvals), its request closes in the same transaction, exactly as for a cancel."""
    Account.objects.filter(pk=account.pk).update(
        webhook_url="https://client.example/hooks", webhook_secret="s3cret"
    )
    officer = make_user(Role.COMPLIANCE_OFFICER)
    by_cancel, by_status = submit_held("by-cancel"), submit_held("by-status")
    order_cancel(order=Order.objects.get(pk=by_cancel["id"]), actor=officer, reason="desk")
    order_status_set(
        order=Order.objects.get(pk=by_status["id"]), status=status, actor=officer, reason="desk"
    )
    closed = _closing(by_status)
    assert closed == _closing(by_cancel)
    assert closed["status"] == "canceled" and closed["decided_by"] is None
    assert closed["events"] == [("APPROVAL_CANCELED", officer.username, "desk")]
    assert closed["sent"] == ["approval.canceled"]
    canceled = AuditEvent.objects.filter(event_type="APPROVAL_CANCELED").order_by("seq").last()
    assert json.loads(canceled.record)["payload"]["order_status"] == status


def test_a_request_closed_with_its_order_is_not_decided_or_expired_later(submit_held, make_user):
    answer = submit_held()
    order_status_set(order=Order.objects.get(pk=answer["id"]), status="expired")
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert approval.status == "canceled"
    officer = make_user(Role.COMPLIANCE_OFFICER)
    with pytest.raises(Conflict) as refused:
        approval_decide(approval=approval, actor=officer, decision="approve", comment="ok")
    assert refused.value.details["status"] == "canceled"
    assert approval_expire_due(now=utcnow() + timedelta(days=1)) == 0
    assert AuditEvent.objects.filter(event_type="APPROVAL_CANCELED").count() == 1


@pytest.mark.parametrize(
    ("decision", "request_status", "event"),
    [("approve", "approved", "APPROVAL_GRANTED"), ("deny", "denied", "APPROVAL_DENIED")],
)
def test_a_decision_moves_the_order_without_closing_its_request_twice(
    submit_held, make_user, decision, request_status, event
):
    """The approvals app moves the order itself: the request it just decided stays decided."""
    answer = submit_held()
    officer = make_user(Role.COMPLIANCE_OFFICER)
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    approval_decide(approval=approval, actor=officer, decision=decision, comment="Checked.")
    closed = _closing(answer)
    assert closed["status"] == request_status
    assert [e[0] for e in closed["events"]] == [event]
    assert closed["decided_by"] == officer.pk


def test_expiry_moves_the_order_without_closing_its_request_twice(submit_held):
    answer = submit_held()
    assert approval_expire_due(now=utcnow() + timedelta(days=1)) == 1
    closed = _closing(answer)
    assert closed["status"] == "expired"
    assert [e[0] for e in closed["events"]] == ["APPROVAL_EXPIRED"]


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_a_decision_and_an_expiry_at_once_exactly_one_wins(
        audit_transactional_db, submit_held, make_user
    ):
        """Both start together, over and over: one wins, the other is told it lost."""
        officer = make_user(Role.COMPLIANCE_OFFICER)
        outcomes = {"decided": 0, "expired": 0}
        for round_ in range(8):
            answer = submit_held(f"race-{round_}")
            approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
            barrier = threading.Barrier(2)
            results: dict[str, object] = {}

            def decide(approval=approval, results=results, barrier=barrier):
                try:
                    barrier.wait()
                    approval_decide(
                        approval=approval, actor=officer, decision="approve", comment="race"
                    )
                    results["decide"] = "won"
                except Conflict as exc:
                    results["decide"] = exc
                except Exception as exc:  # noqa: BLE001 - reported below
                    results["decide"] = exc
                finally:
                    connection.close()

            def expire(results=results, barrier=barrier):
                try:
                    barrier.wait()
                    results["expire"] = approval_expire_due(now=utcnow() + timedelta(hours=1))
                except Exception as exc:  # noqa: BLE001 - reported below
                    results["expire"] = exc
                finally:
                    connection.close()

            threads = [threading.Thread(target=decide), threading.Thread(target=expire)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            approval.refresh_from_db()
            order = Order.objects.get(pk=answer["id"])
            if results["decide"] == "won":
                assert results["expire"] == 0, results
                assert approval.status == "approved" and order.status == "accepted"
                outcomes["decided"] += 1
            else:
                loss = results["decide"]
                assert isinstance(loss, Conflict), results
                assert loss.code == "approval_not_pending" and loss.details["status"] == "expired"
                assert results["expire"] == 1, results
                assert approval.status == "expired" and order.status == "expired"
                outcomes["expired"] += 1
            granted = AuditEvent.objects.filter(
                event_type__in=["APPROVAL_GRANTED", "APPROVAL_EXPIRED"],
                object_id=str(approval.pk),
            )
            assert granted.count() == 1
        assert sum(outcomes.values()) == 8
