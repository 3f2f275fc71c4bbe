"""The compliance report for a period, from hand-made decisions, approvals, switches, alerts."""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_decide, approval_request_create
from apps.audit.services import audit_record
from apps.core.time import utcnow
from apps.killswitch.models import KillSwitch
from apps.killswitch.services import kill_switch_activate, kill_switch_deactivate
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from apps.reporting.services import report_generate
from apps.reporting.tasks import generate_daily
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
    """Today, at submission: 3 accepted, 3 rejected, 2 held (one approved after 90 s, one
    denied after 30 s); a kill switch, three alerts."""
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
    # a hold rule failed too, but the reject rule decided: a rejection by MAXN-1 only
    order(8, "rejected", [HOLD, FAIL_MAX])
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
    assert found[("checks", "orders submitted")] == "8"
    assert found[("checks", "rule checks run")] == "12"
    assert found[("checks", "warnings")] == "1"
    # the gate's answers at submission: the denied order was held, not rejected
    assert found[("decisions", "accepted")] == "3"
    assert found[("decisions", "rejected")] == "3"
    assert found[("decisions", "held for approval")] == "2"
    # status now: the approved order is accepted, the denied one rejected
    assert found[("status_now", "accepted")] == "4"
    assert found[("status_now", "rejected")] == "4"
    assert found[("status_now", "pending approval")] == "0"
    # only rules whose action is reject, in orders the gate rejected
    assert [(r["item"], r["value"]) for r in rows if r["section"] == "rejections_by_rule"] == [
        ("MAXN-1", "2"),
        ("PX-1", "2"),
    ]
    assert [(r["item"], r["value"]) for r in rows if r["section"] == "most_breached_rules"] == [
        ("APPROVAL-1 (hold)", "3"),
        ("MAXN-1 (reject)", "2"),
        ("PX-1 (reject)", "2"),
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
    totals = body["summary"]["totals"]
    assert totals["Rejected at submission"] == 3
    assert totals["Held for approval at submission"] == 2
    assert totals["Rejected now (at submission, or held and denied)"] == 4
    titles = [t["title"] for t in body["summary"]["tables"]]
    assert "Gate decisions at submission" in titles
    assert "Orders by status when the report was built" in titles
    assert body["summary"]["totals"]["Audit chain verified"] == "yes"
    report = generate(day, "pdf")
    assert report.size > 0 and report.record_count == len(body["rows"])


# --- a kill switch set by the system, not by a person -------------------------------------


@pytest.fixture
def system_halt(db):
    """Surveillance halted ACC-S1 on Friday 2026-11-20 (an automated control: no user)."""
    from tests.reporting.factories import DAY, at

    AccountFactory(code="ACC-S1")
    switch = kill_switch_activate(
        scope="account",
        target="ACC-S1",
        state="halted",
        reason="Surveillance alert #7 (spoofing, critical)",
        actor=None,
        control="surveillance",
    )
    KillSwitch.objects.filter(pk=switch.pk).update(activated_at=at(DAY, "12:00"))
    return switch


def _switch_rows(rows):
    return [r for r in rows if r["section"] == "kill_switch" and r["item"] != "events"]


def test_compliance_report_after_a_system_halt_builds_from_the_api(api_client_for, system_halt):
    officer = api_client_for(Role.COMPLIANCE_OFFICER)
    for fmt in ("csv", "json", "pdf"):
        response = officer.post(
            "/api/v1/reports/",
            {
                "report_type": "compliance",
                "period_start": "2026-11-20",
                "period_end": "2026-11-20",
                "format": fmt,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    report = RegulatoryReport.objects.get(report_type="compliance", format="csv")
    (row,) = _switch_rows(csv_rows(report, report.generated_by))
    assert row["item"] == "2026-11-20 12:00:00Z account ACC-S1"
    assert row["value"].startswith("halted by system (surveillance): Surveillance alert #7")


def test_compliance_report_after_a_system_halt_builds_in_the_daily_job(make_user, system_halt):
    # Monday 2026-11-23 after the close builds Friday's reports
    ids = generate_daily(reports=[["compliance", "pdf"], ["compliance", "csv"]], today="2026-11-23")
    reports = RegulatoryReport.objects.filter(pk__in=ids)
    assert sorted(r.format for r in reports) == ["csv", "pdf"]
    (row,) = _switch_rows(csv_rows(reports.get(format="csv"), make_user(Role.VIEWER)))
    assert "by system (surveillance)" in row["value"]


def test_an_unreadable_audit_witness_is_reported_not_a_crash(day, settings, tmp_path):
    settings.AUDIT_WITNESS_DIR = str(tmp_path / "no-such-witness")
    rows = csv_rows(generate(day, "csv"), day)
    found = {(r["section"], r["item"]): r["value"] for r in rows}
    assert found[("audit_chain", "verified")] == "NOT CHECKED"
    assert "witness cannot be read" in found[("audit_chain", "problem")]
    assert generate(day, "pdf").size > 0


def test_a_switch_with_no_user_and_no_control_is_unknown(db, make_user):
    from tests.reporting.factories import DAY, at

    risk = make_user(Role.RISK_MANAGER)
    lifter = make_user(Role.RISK_MANAGER)
    AccountFactory(code="ACC-S2")
    switch = kill_switch_activate(
        scope="account", target="ACC-S2", state="reducing", reason="drill", actor=risk
    )
    kill_switch_deactivate(switch=switch, actor=lifter)
    # a row whose activator was never recorded (loaded from elsewhere, say)
    KillSwitch.objects.filter(pk=switch.pk).update(
        activated_by=None, activated_by_system="", activated_at=at(DAY, "09:00")
    )
    officer = make_user(Role.COMPLIANCE_OFFICER)
    report = report_generate(
        report_type="compliance", period_start=DAY, period_end=DAY, fmt="csv", actor=officer
    )
    (row,) = _switch_rows(csv_rows(report, officer))
    assert row["value"].startswith("reducing by unknown: drill")
