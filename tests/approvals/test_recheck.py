"""Approving re-checks the gate's hard limits against the state of now."""

from decimal import Decimal

import pytest

from apps.approvals import hooks
from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.killswitch.services import kill_switch_activate
from apps.rbac.roles import Role
from apps.rules.approval_recheck import recheck_held_order
from apps.trading.models import Account, Order
from apps.trading.services import account_update
from tests.approvals.conftest import ORDERS, order_body
from tests.rules.factories import make_rule


def approve(client, approval_id: int, comment: str = "Checked with the desk."):
    return client.post(
        f"/api/v1/approvals/{approval_id}/approve/", {"comment": comment}, format="json"
    )


def test_the_rules_app_fills_the_recheck():
    assert hooks.recheck_held_order.provider is recheck_held_order


def test_a_kill_switch_since_the_hold_refuses_the_approval(
    officer, submit_held, make_user, account
):
    answer = submit_held()
    kill_switch_activate(
        scope="account",
        target=account.code,
        state="halted",
        reason="Runaway algorithm",
        actor=make_user(Role.RISK_MANAGER),
    )
    response = approve(officer, answer["approval"]["id"])
    assert response.status_code == 409, response.json()
    error = response.json()["error"]
    assert error["code"] == "approval_breaches_limit"
    assert [c["rule"] for c in error["details"]["checks"]] == ["KILL-SWITCH"]
    assert "KILL-SWITCH" in error["message"]
    # Still pending, the refusal recorded; the officer may deny it instead.
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert approval.status == "pending" and approval.recheck[0]["rule"] == "KILL-SWITCH"
    assert Order.objects.get(pk=answer["id"]).status == "pending_approval"
    refused = AuditEvent.objects.get(event_type="APPROVAL_REFUSED")
    assert refused.actor == officer.user.username and "kill_switch_halted" in refused.record
    denied = officer.post(
        f"/api/v1/approvals/{answer['approval']['id']}/deny/", {"comment": "Halted."}, format="json"
    )
    assert denied.status_code == 200


def test_a_credit_limit_lowered_since_the_hold_refuses_the_approval(officer, submit_held, account):
    make_rule("credit_limit", {"use_account_limit": True})
    answer = submit_held()  # notional 1000 within the 1,000,000 credit line
    account_update(account=Account.objects.get(pk=account.pk), credit_limit=Decimal("500"))
    response = approve(officer, answer["approval"]["id"])
    assert response.status_code == 409
    checks = response.json()["error"]["details"]["checks"]
    assert [c["rule_type"] for c in checks] == ["credit_limit"]
    assert checks[0]["threshold"] == "500"


def test_the_order_is_not_counted_against_itself(officer, submit_held):
    """Its own working quantity is replaced, and it is not its own duplicate or its own
    extra order in the rate throttle."""
    make_rule("order_rate", {"max_per_minute": 1})
    make_rule("duplicate_order", {"window_seconds": 60})
    make_rule("cancel_ratio", {"max_ratio": "0", "min_orders": 1})
    make_rule("position_limit", {"max_quantity": "10"})
    make_rule("credit_limit", {"use_account_limit": False, "max_credit": "1000"})
    answer = submit_held()  # exactly at every limit: quantity 10, notional 1000
    response = approve(officer, answer["approval"]["id"])
    assert response.status_code == 200, response.json()
    assert Order.objects.get(pk=answer["id"]).status == "accepted"


def test_other_orders_since_the_hold_still_count(officer, trader, submit_held):
    make_rule("order_rate", {"max_per_minute": 1})
    answer = submit_held()
    # Another order in the same minute: the throttle rejects it, and it counts.
    other = trader.post(ORDERS, order_body("other", quantity="1"), format="json").json()
    assert other["status"] == "rejected"
    response = approve(officer, answer["approval"]["id"])
    assert response.status_code == 409
    assert [c["rule_type"] for c in response.json()["error"]["details"]["checks"]] == ["order_rate"]


def test_hold_and_warn_rules_do_not_block_the_approval(officer, submit_held):
    make_rule("order_size", {"max_quantity": "1"}, action="warn")
    make_rule("max_notional", {"max_notional": "1"}, status="testing")
    answer = submit_held()
    assert approve(officer, answer["approval"]["id"]).status_code == 200


def test_without_a_recheck_approval_fails_closed(officer, submit_held, monkeypatch):
    answer = submit_held()
    monkeypatch.setattr(hooks.recheck_held_order, "provider", None)
    response = approve(officer, answer["approval"]["id"])
    assert response.status_code == 409
    assert response.json()["error"]["details"]["checks"][0]["code"] == "recheck_unavailable"
    assert Order.objects.get(pk=answer["id"]).status == "pending_approval"


def test_denying_needs_no_recheck(officer, submit_held, monkeypatch):
    answer = submit_held()
    monkeypatch.setattr(hooks.recheck_held_order, "provider", None)
    response = officer.post(
        f"/api/v1/approvals/{answer['approval']['id']}/deny/", {"comment": "No."}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_recheck_sees_the_book_of_now(submit_held, side, make_user):
    answer = submit_held(side=side)
    order = Order.objects.select_related("account", "instrument", "submitted_by").get(
        pk=answer["id"]
    )
    assert recheck_held_order(order=order, user=make_user(Role.COMPLIANCE_OFFICER)) == []
