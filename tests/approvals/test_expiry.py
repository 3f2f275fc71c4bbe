"""Expiry by the beat job, closing when the held order is canceled, and the decision/expiry race."""

import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_decide, approval_expire_due
from apps.approvals.tasks import expire_due
from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.trading.models import Order
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


def test_an_order_ended_elsewhere_closes_its_request(submit_held, make_user):
    """An order ended by a path that sends nothing (a status set directly): its request
    closes when next touched."""
    first, second = submit_held("a"), submit_held("b")
    for answer in (first, second):
        order_status_set(order=Order.objects.get(pk=answer["id"]), status="expired")
    officer = make_user(Role.COMPLIANCE_OFFICER)
    approval = ApprovalRequest.objects.get(pk=first["approval"]["id"])
    try:
        approval_decide(approval=approval, actor=officer, decision="approve", comment="ok")
    except Conflict as exc:
        assert exc.details["status"] == "canceled"
    else:
        raise AssertionError("a decision on a canceled order must be refused")
    assert approval_expire_due(now=utcnow() + timedelta(days=1)) == 1
    statuses = ApprovalRequest.objects.order_by("pk").values_list("status", flat=True)
    assert list(statuses) == ["canceled", "canceled"]


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
