"""The compliance report for a period, from hand-made decisions, approvals, switches, alerts."""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_decide, approval_request_create
from apps.audit.services import audit_record
from apps.core.time import utcnow
from apps.killswitch.services import kill_switch_activate
from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from apps.surveillance.models import Alert
from apps.trading.services import order_create
from tests.reporting.helpers import csv_rows, json_body
from tests.trading.factories import AccountFactory, InstrumentFactory

pytestmark = pytest.mark.django_db

FAIL_PX = {"rule": "PX-1", "status": "fail", "action": "reject"}
FAIL_MAX = {"rule": "MAXN-1", "status": "fail", "action": "reject"}
PASS_MAX = {"rule": "MAXN-1", "status": "pass"}
WARN_DUP = {"rule": "DUP-1", "status": "warn"}
HOLD = {"rule": "APPROVAL-1", "status": "fail", "action": "hold"}


@pytest.fixture
def day(db, make_user):
    """Today: 3 accepted, 2 rejected, 2 held (one approved after 90 s, one denied after 30 s),
    a kill switch, three alerts."""
    account = AccountFactory(code="ACC-C1")
    instrument = InstrumentFactory(symbol="MSFT")
    trader = make_user(Role.TRADER)
    officer = make_user(Role.COMPLIANCE_OFFICER)
    risk = make_user(Role.RISK_MANAGER)

    def order(n, status, checks):
        return order_create(
            account=account,
            instrument=instrument,
            client_order_id=f"c-{n}",
            side="buy",
            order_type="limit",
            quantity="1",
            limit_price="10",
            submitted_by=trader,
            status=status,
            checks=checks,
            check_duplicate=False,
        )

    order(1, "accepted", [PASS_MAX])
    order(2, "accepted", [PASS_MAX, WARN_DUP])
    order(3, "accepted", [PASS_MAX])
    order(4, "rejected", [FAIL_PX, PASS_MAX])
    order(5, "rejected", [FAIL_PX, FAIL_MAX])
    for n, decision, wait in ((6, "approve", 90), (7, "deny", 30)):
        held = order(n, "pending_approval", [HOLD])
        request = approval_request_create(order=held, rules=[HOLD])
        approval_decide(approval=request, actor=officer, decision=decision, comment="ok")
        decided = ApprovalRequest.objects.get(pk=request.pk)
        ApprovalRequest.objects.filter(pk=request.pk).update(
            requested_at=decided.decided_at - timedelta(seconds=wait)
        )
    kill_switch_activate(
        scope="account", target="ACC-C1", state="halted", reason="runaway algo", actor=risk
    )
    now = utcnow()
    for detector, status, disposition in (
        ("spoofing", "closed", "false_positive"),
        ("spoofing", "open", ""),
        ("wash_trade", "closed", "true_positive"),
    ):
        Alert.objects.create(
            detector=detector,
            severity="warning",
            status=status,
            disposition=disposition,
            dedup_key=f"{detector}-{status}",
            title=detector,
            score=Decimal("0.9"),
            window_start=now,
            window_end=now,
            first_seq=1,
            closed_at=now if status == "closed" else None,
        )
    audit_record(event_type="SYSTEM_ACCESS", payload={"note": "fixture"})
    return officer


def generate(officer, fmt):
    today = utcnow().date()
    return report_generate(
        report_type="compliance", period_start=today, period_end=today, fmt=fmt, actor=officer
    )


def test_compliance_report_sections(day):
    rows = csv_rows(generate(day, "csv"), day)
    found = {(r["section"], r["item"]): r["value"] for r in rows}
    assert found[("checks", "orders submitted")] == "7"
    assert found[("checks", "rule checks run")] == "10"
    assert found[("checks", "warnings")] == "1"
    assert found[("decisions", "accepted")] == "3"
    assert found[("decisions", "rejected")] == "2"
    assert found[("decisions", "held for approval")] == "2"
    assert [(r["item"], r["value"]) for r in rows if r["section"] == "rejections_by_rule"] == [
        ("PX-1", "2"),
        ("MAXN-1", "1"),
    ]
    assert [(r["item"], r["value"]) for r in rows if r["section"] == "most_breached_rules"] == [
        ("APPROVAL-1", "2"),
        ("PX-1", "2"),
        ("MAXN-1", "1"),
    ]
    assert found[("held_orders", "held")] == "2"
    assert found[("held_orders", "approved")] == "1"
    assert found[("held_orders", "denied")] == "1"
    assert found[("held_orders", "median time to decision (s)")] == "60"
    assert found[("held_orders", "longest time to decision (s)")] == "90"
    assert found[("kill_switch", "events")] == "1"
    switch = [r for r in rows if r["section"] == "kill_switch" and r["item"] != "events"]
    assert "account ACC-C1" in switch[0]["item"] and "runaway algo" in switch[0]["value"]
    assert found[("alerts", "spoofing / false_positive")] == "1"
    assert found[("alerts", "spoofing / not closed")] == "1"
    assert found[("alerts", "wash_trade / true_positive")] == "1"
    assert found[("alerts", "alerts raised")] == "3"
    assert found[("false_positive_rates", "spoofing")] == "1 of 1 (100.0%)"
    assert found[("audit_chain", "verified")] == "yes"
    assert int(found[("audit_chain", "events checked")]) > 0


def test_compliance_summary_and_pdf(day):
    body = json_body(generate(day, "json"), day)
    assert body["summary"]["totals"]["Rejected"] == 2
    assert body["summary"]["totals"]["Audit chain verified"] == "yes"
    report = generate(day, "pdf")
    assert report.size > 0 and report.record_count == len(body["rows"])
