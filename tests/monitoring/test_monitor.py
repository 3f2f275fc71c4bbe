"""The monitor over real books: each portfolio rule's measure as stored, the violations' life
(opened, seen again, resolved), their audit events and alerts; the engine ignores these rules."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.monitoring.models import MonitorRun, Violation
from apps.monitoring.services import monitor_run
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.rbac.services import user_create
from tests.monitoring.conftest import NOW, fill, instrument, position
from tests.rules.factories import make_rule, order_body


def active() -> dict[str, Decimal]:
    return {v.subject: v.observed for v in Violation.objects.filter(status="active").order_by("id")}


def measured(rule_type: str, params: dict, **fields) -> dict[str, Decimal]:
    make_rule(rule_type, params, **fields)
    run = monitor_run(now=NOW)
    assert run is not None and run.status == "ok", run and run.error
    return active()


def test_expected_shortfall_per_account_and_firm(book):
    # ACC-M1: P&L 20, -30, 20 on a NAV of 220: ES (worst 1 of 3 days) 30 = 13.6364%.
    # Firm: the same P&L on 250: 12%. ACC-M2 has no price history: no loss, 0%.
    assert measured("expected_shortfall", {"max_pct": "10"}) == {
        "ACC-M1": Decimal("13.6364"),
        "firm": Decimal("12.0000"),
    }
    violation = Violation.objects.get(subject="ACC-M1")
    assert violation.account.code == "ACC-M1" and violation.unit == "% of NAV"
    assert violation.severity == "critical" and violation.threshold == Decimal("10")
    assert "13.6364% of NAV" in violation.message and "over 3 days" in violation.message
    assert Violation.objects.get(subject="firm").account is None


def test_max_drawdown(book):
    # ACC-M1: 220 -> 240 -> 210 -> 230: 30 / 240 = 12.5%. Firm: 250 -> 270 -> 240: 11.1111%.
    assert measured("max_drawdown", {"max_pct": "12"}) == {"ACC-M1": Decimal("12.5000")}


def test_position_weight(book):
    # ACC-M1 half in each; ACC-M2 all in one; the firm 110 of 250 = 44%.
    assert measured("position_weight", {"max_pct": "45"}) == {
        "ACC-M1": Decimal("50.0000"),
        "ACC-M2": Decimal("100.0000"),
    }
    assert "AAA" in Violation.objects.get(subject="ACC-M1").message


def test_sector_weight(book):
    # Firm: Energy (110 + 30) of 250 = 56%.
    assert measured("sector_weight", {"max_pct": "55"}) == {
        "ACC-M2": Decimal("100.0000"),
        "firm": Decimal("56.0000"),
    }
    assert "Energy" in Violation.objects.get(subject="firm").message


def test_herfindahl(book):
    # ACC-M1 0.5^2 x 2 = 0.5; ACC-M2 1; firm 0.44^2 x 2 + 0.12^2 = 0.4016.
    assert measured("herfindahl", {"max_index": "0.45"}) == {
        "ACC-M1": Decimal("0.5000"),
        "ACC-M2": Decimal("1.0000"),
    }
    make_rule("herfindahl", {"max_index": "0.40"}, code="HHI-40")
    monitor_run(now=NOW)
    assert Violation.objects.get(rule_code="HHI-40", subject="firm").observed == Decimal("0.4016")


def test_implementation_shortfall(book):
    one, two = book["accounts"]
    aaa, _bbb, ccc = book["instruments"]
    fill(one, aaa, "buy", "100", "101", "100")  # +100 on 10000
    fill(one, aaa, "sell", "50", "99", "100")  # +50 on 5000: 100 bp
    fill(two, ccc, "buy", "10", "9.99", "10")  # a gain: -10 bp
    fill(one, aaa, "buy", "100", "150", "100", when=NOW - timedelta(days=2))  # too old
    # Firm: (100 + 50 - 0.1) / (10000 + 5000 + 100) = 99.2715 bp.
    assert measured("implementation_shortfall", {"max_bp": "50"}) == {
        "ACC-M1": Decimal("100.0000"),
        "firm": Decimal("99.2715"),
    }
    assert Violation.objects.get(subject="ACC-M1").unit == "bp"


def test_monitor_uptime_from_heartbeats(book):
    # One heartbeat a minute for the last hour, but none from 11:20:30 to 11:29:30: the minutes
    # 11:21 to 11:29 are more than 60 s from any heartbeat: 51 of 60 minutes, 85%.
    start = NOW - timedelta(hours=1)
    for k in range(60):
        if 20 <= k < 30:
            continue
        at = start + timedelta(minutes=k)
        MonitorRun.objects.create(started_at=at, finished_at=at, duration_seconds=Decimal("0.1"))
    assert measured("monitor_uptime", {"min_pct": "99.5", "window_hours": 1}) == {
        "firm": Decimal("85.0000")
    }
    assert Violation.objects.get().message.startswith("Monitor uptime")


def test_first_run_has_no_uptime_to_judge(book):
    assert measured("monitor_uptime", {"min_pct": "99.5"}) == {}


def test_data_quality_counts_instruments_trading_now(book):
    instrument("STALE", "Energy", "5", as_of=NOW - timedelta(hours=2))
    instrument("SHUT", "Energy", "5", as_of=NOW - timedelta(days=3), calendar="XNYS")  # closed
    # Four 24/7 instruments trading now, one of them stale: 75%.
    assert measured("data_quality", {"min_pct": "99", "max_age_seconds": 900}) == {
        "firm": Decimal("75.0000")
    }


def test_an_account_rule_judges_that_account_only(book):
    assert measured("position_weight", {"max_pct": "5"}, scope="account", scope_value="ACC-M2") == {
        "ACC-M2": Decimal("100.0000")
    }


def test_a_violation_is_opened_seen_again_and_resolved(book, django_capture_on_commit_callbacks):
    officer_mail = "officer@example.com"
    officer = user_create(username="co", password="x-long-password-1", role=Role.COMPLIANCE_OFFICER)
    officer.email = officer_mail
    officer.save(update_fields=["email"])
    rule = make_rule("position_weight", {"max_pct": "60", "severity": "warning"})
    with django_capture_on_commit_callbacks(execute=False):
        first = monitor_run(now=NOW)
    assert first.violations_opened == 1 and first.active_violations == 1
    violation = Violation.objects.get(rule=rule)
    assert (violation.subject, violation.severity) == ("ACC-M2", "warning")
    breach = AuditEvent.objects.get(event_type="LIMIT_BREACH")
    record = json.loads(breach.record)
    assert record["object_type"] == "monitoring.violation"
    assert record["payload"]["rule"] == rule.code and record["payload"]["observed"] == "100"
    # Routed: a warning goes to Slack by default; Slack is not set up here, so email.
    [delivery] = Delivery.objects.filter(object_id=str(violation.pk), event="limit_breach")
    assert delivery.channel == "email" and delivery.target == officer_mail

    later = NOW + timedelta(minutes=1)
    monitor_run(now=later)
    violation.refresh_from_db()
    assert violation.status == "active" and violation.times_seen == 2
    assert violation.first_seen == NOW and violation.last_seen == later
    assert AuditEvent.objects.filter(event_type="LIMIT_BREACH").count() == 1  # not again

    # ACC-M2 buys a second name: 30 and 40 of 70, 57% is within 60%.
    position(book["accounts"][1], book["instruments"][0], "0.3636")
    done = monitor_run(now=later + timedelta(minutes=1))
    assert done.violations_resolved == 1 and done.active_violations == 0
    violation.refresh_from_db()
    assert violation.status == "resolved" and violation.resolved_at == later + timedelta(minutes=1)
    resolved = json.loads(AuditEvent.objects.get(event_type="LIMIT_BREACH_RESOLVED").record)
    assert resolved["payload"]["why"].startswith("Largest position weight")


def test_a_flat_account_and_a_retired_rule_resolve_their_violations(book):
    rule = make_rule("position_weight", {"max_pct": "45"})
    monitor_run(now=NOW)
    assert set(active()) == {"ACC-M1", "ACC-M2"}
    position(book["accounts"][1], book["instruments"][2], "0")
    monitor_run(now=NOW + timedelta(minutes=1))
    assert set(active()) == {"ACC-M1", "firm"}  # AAA and BBB alone: 50% each
    rule.status = "inactive"
    rule.save(update_fields=["status"])
    monitor_run(now=NOW + timedelta(minutes=2))
    assert active() == {}
    assert AuditEvent.objects.filter(event_type="LIMIT_BREACH_RESOLVED").count() == 3


def test_nothing_runs_while_every_venue_is_shut(db):
    instrument("NYSE1", "Energy", "5", calendar="XNYS")
    make_rule("position_weight", {"max_pct": "5"})
    assert monitor_run(now=NOW) is None  # a Saturday
    assert MonitorRun.objects.count() == 0


def test_the_pretrade_engine_ignores_portfolio_rules(api_client_for, account, instrument):
    for rule_type, params in [
        ("position_weight", {"max_pct": "0.0001"}),
        ("expected_shortfall", {"max_pct": "0.0001"}),
        ("data_quality", {"min_pct": "100", "max_age_seconds": 1}),
    ]:
        make_rule(rule_type, params)
    client = api_client_for(Role.TRADER)
    response = client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "accepted"
    assert response.json()["checks"] == []


@pytest.mark.parametrize(
    "params,error",
    [
        ({"max_pct": "101"}, "at most 100"),
        ({"max_pct": 5.0}, "decimal string"),
        ({"severity": "urgent"}, "severity"),
        ({"lookback_days": 1}, "at least 20"),
        ({"bogus": "1"}, "unknown parameters"),
    ],
)
def test_portfolio_rule_parameters_are_validated(params, error):
    from apps.rules.checks import REGISTRY
    from apps.rules.checks.base import ParameterError

    with pytest.raises(ParameterError, match=error):
        REGISTRY["expected_shortfall"].validate(params)
