"""GET /api/v1/compliance/status/ and the dashboard's data: their numbers are the database's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.monitoring.models import MonitorRun, Violation
from apps.monitoring.services import monitor_run
from apps.rbac.roles import Role
from apps.rules.models import ComplianceRule
from tests.monitoring.conftest import NOW
from tests.permissions import assert_api_role_required
from tests.rules.factories import make_rule

STATUS = "/api/v1/compliance/status/"


@pytest.fixture
def monitored(book):
    make_rule("position_weight", {"max_pct": "45"})  # warning: ACC-M1, ACC-M2
    make_rule("expected_shortfall", {"max_pct": "10"})  # critical: ACC-M1, firm
    make_rule("herfindahl", {"max_index": "0.9", "severity": "info"})  # info: ACC-M2
    make_rule("max_notional", {"max_notional": "1000000"})  # an order rule
    # A day before the fixed moment: well in the past whatever the clock says.
    monitor_run(now=NOW - timedelta(days=1))
    monitor_run(now=NOW - timedelta(days=1) + timedelta(minutes=1))
    return book


def test_status_numbers_match_the_database(monitored, api_client_for):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = api_client_for(Role.RISK_MANAGER).get(STATUS)
    assert response.status_code == 200, response.content
    body = response.json()
    active = Violation.objects.filter(status="active")
    assert (
        body["active_violations"]
        == {
            "critical": active.filter(severity="critical").count(),
            "warning": active.filter(severity="warning").count(),
            "info": active.filter(severity="info").count(),
        }
        == {"critical": 2, "warning": 2, "info": 1}
    )
    assert body["total_rules"] == ComplianceRule.objects.filter(status="active").count() == 4
    assert body["portfolio_rules"] == 3
    assert body["check_count"] == MonitorRun.objects.count() == 2
    assert body["failed_checks"] == 0
    last = MonitorRun.objects.latest("started_at")
    assert body["last_check"]["started_at"] == "2026-11-20T12:01:30Z"
    assert body["last_check"]["status"] == "ok"
    assert body["last_check"]["rules_evaluated"] == 3 and body["last_check"]["books"] == 3
    assert Decimal(body["last_check"]["duration_seconds"]) == last.duration_seconds
    summary = body["violation_summary"]
    assert summary["active"] == active.count() == 5
    assert summary["by_rule_type"] == {
        "expected_shortfall": 2,
        "herfindahl": 1,
        "position_weight": 2,
    }
    assert len(summary["violations"]) == 5
    first = summary["violations"][0]
    assert first["severity"] == "critical" and first["rule_type"] == "expected_shortfall"
    assert first["times_seen"] == 2 and first["unit"] == "% of NAV"
    assert set(first) >= {"rule", "subject", "observed", "threshold", "first_seen", "last_seen"}
    # The last run is long past and a 24/7 venue is open: the monitor is not running.
    assert body["markets_open"] is True and body["monitoring_active"] is False


def test_monitoring_is_active_after_a_recent_run(book, api_client_for):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    make_rule("position_weight", {"max_pct": "45"})
    monitor_run(now=timezone.now())
    body = api_client_for(Role.RISK_MANAGER).get(STATUS).json()
    assert body["monitoring_active"] is True and body["check_count"] == 1


def test_without_its_schedule_monitoring_is_not_active(book, api_client_for):
    monitor_run(now=timezone.now(), require_open=False)
    assert api_client_for(Role.RISK_MANAGER).get(STATUS).json()["monitoring_active"] is False


def test_status_of_an_empty_platform(db, api_client_for):
    body = api_client_for(Role.RISK_MANAGER).get(STATUS).json()
    assert body["last_check"] is None and body["check_count"] == 0
    assert body["active_violations"] == {"critical": 0, "warning": 0, "info": 0}
    assert body["violation_summary"]["violations"] == []


def test_status_needs_a_role(db, api_client_for, client):
    assert api_client_for(None).get(STATUS).status_code == 403
    response = client.get(STATUS)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_status_refuses_writes(db, api_client_for):
    response = api_client_for(Role.ADMIN).post(STATUS, {}, format="json")
    assert response.status_code == 405
    assert "error" in response.json()


def test_dashboard_data_matches_the_database(monitored, client, make_user, account, instrument):
    from apps.killswitch.services import kill_switch_activate

    officer = make_user(Role.RISK_MANAGER)
    kill_switch_activate(
        actor=officer, scope="account", target="ACC-M2", state="halted", reason="Test halt."
    )
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    response = client.get("/dashboard/data/")
    assert response.status_code == 200
    data = response.json()
    assert data["active_violations"] == {"critical": 2, "warning": 2, "info": 1}
    assert data["kill_switch"]["firm"] == "trading"
    [switch] = data["kill_switch"]["active"]
    assert (switch["scope"], switch["target"], switch["state"]) == ("account", "ACC-M2", "halted")
    assert len(data["decisions_per_minute"]["labels"]) == 30
    assert set(data["decisions_per_minute"]["series"]) == {
        "accepted",
        "rejected",
        "pending_approval",
    }
    assert data["open_alerts_by_detector"] == {}


def test_the_status_needs_a_risk_manager(db, api_client_for):
    """Firm-wide: every account's violations."""
    assert_api_role_required(api_client_for, "get", STATUS, Role.RISK_MANAGER)
