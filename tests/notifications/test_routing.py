"""Routing rules: which channels a staff alert goes to, by severity and kind; the defaults; the
back office; delivery metrics."""

import json

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from apps.audit.models import AuditEvent
from apps.core.errors import PermissionDenied, ValidationFailed
from apps.notifications.models import Delivery, RoutingRule
from apps.notifications.services import alert_notify, alert_routes, routing_rule_save
from apps.rbac.roles import Role


@pytest.fixture
def configured(settings):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/slack"
    settings.TELEGRAM_BOT_TOKEN = "1:token"
    settings.TELEGRAM_CHAT_ID = "42"
    settings.PAGERDUTY_ROUTING_KEY = "key"


@pytest.fixture
def officers(make_user):
    first = make_user(Role.COMPLIANCE_OFFICER)
    second = make_user(Role.COMPLIANCE_OFFICER)
    for user, address in ((first, "co1@example.com"), (second, "co2@example.com")):
        user.email = address
        user.save(update_fields=["email"])
    make_user(Role.TRADER)  # not an officer: never emailed
    return ["co1@example.com", "co2@example.com"]


def test_the_defaults_page_critical_slack_warnings_and_email_info(db, configured, officers):
    assert alert_routes(kind="limit_breach", severity="critical") == [
        ("pagerduty", "PAGERDUTY_ROUTING_KEY"),
        ("slack", "SLACK_WEBHOOK_URL"),
    ]
    assert alert_routes(kind="surveillance.spoofing", severity="warning") == [
        ("slack", "SLACK_WEBHOOK_URL")
    ]
    assert alert_routes(kind="limit_breach", severity="info") == [
        ("email", "co1@example.com"),
        ("email", "co2@example.com"),
    ]


def test_rules_match_on_kind_exactly_or_by_prefix(db, configured, officers):
    RoutingRule.objects.create(
        name="spoofing to the desk head", kind="surveillance.spoofing", channel="email",
        target="head@example.com",
    )  # fmt: skip
    RoutingRule.objects.create(
        name="all surveillance to Telegram", kind="surveillance.*", channel="telegram"
    )
    RoutingRule.objects.create(
        name="switched off", kind="", channel="email", target="off@example.com", is_active=False
    )
    routes = alert_routes(kind="surveillance.spoofing", severity="warning")
    assert routes == [
        ("email", "head@example.com"),
        ("slack", "SLACK_WEBHOOK_URL"),
        ("telegram", "42"),
    ]
    assert ("telegram", "42") in alert_routes(kind="surveillance.layering", severity="info")
    assert ("telegram", "42") not in alert_routes(kind="limit_breach", severity="info")


def test_unconfigured_channels_fall_back_to_email(db, officers, settings):
    settings.SLACK_WEBHOOK_URL = settings.PAGERDUTY_ROUTING_KEY = ""
    assert alert_routes(kind="limit_breach", severity="critical") == [
        ("email", "co1@example.com"),
        ("email", "co2@example.com"),
    ]


def test_alert_notify_records_one_delivery_per_route(
    db, configured, officers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        deliveries = alert_notify(
            kind="limit_breach",
            severity="critical",
            subject="Drawdown 18% on ACC-002",
            text="Maximum drawdown 18% is above 15%.",
            payload={"rule": "PF-DD-1"},
            object_type="monitoring.violation",
            object_id=3,
        )
    assert [(d.channel, d.target) for d in deliveries] == [
        ("pagerduty", "PAGERDUTY_ROUTING_KEY"),
        ("slack", "SLACK_WEBHOOK_URL"),
    ]
    assert deliveries[0].payload == {
        "kind": "limit_breach",
        "severity": "critical",
        "text": "Maximum drawdown 18% is above 15%.",
        "rule": "PF-DD-1",
    }
    assert {d.object_id for d in deliveries} == {"3"}
    assert Delivery.objects.count() == 2


def test_routing_rules_change_through_an_audited_service(db, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    rule = routing_rule_save(
        actor=officer,
        rule=RoutingRule(name="Desk head", channel="email", target=" head@example.com "),
    )
    assert rule.target == "head@example.com"
    event = AuditEvent.objects.filter(event_type="CONFIG_CHANGED").latest("seq")
    assert event.object_type == "notifications.routingrule" and event.object_id == str(rule.pk)
    assert json.loads(event.record)["payload"]["change"] == "created"
    rule.is_active = False
    routing_rule_save(actor=officer, rule=rule)
    event = AuditEvent.objects.filter(event_type="CONFIG_CHANGED").latest("seq")
    assert json.loads(event.record)["payload"]["before"]["is_active"] is True
    assert json.loads(event.record)["payload"]["after"]["is_active"] is False
    with pytest.raises(ValidationFailed):
        routing_rule_save(actor=officer, rule=RoutingRule(name="x", channel="email", target="no"))
    with pytest.raises(ValidationFailed):
        routing_rule_save(
            actor=officer, rule=RoutingRule(name="x", channel="slack", target="http://x")
        )
    with pytest.raises(PermissionDenied):
        routing_rule_save(
            actor=make_user(Role.RISK_MANAGER), rule=RoutingRule(name="x", channel="slack")
        )


def test_routing_rules_in_the_back_office(db, client, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    response = client.post(
        "/admin/notifications/routingrule/add/",
        {"name": "Ops on Telegram", "severity": "warning", "kind": "limit_breach",
         "channel": "telegram", "target": "-100200", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    rule = RoutingRule.objects.get(name="Ops on Telegram")
    assert rule.channel == "telegram" and rule.target == "-100200"
    assert AuditEvent.objects.filter(
        event_type="CONFIG_CHANGED", object_type="notifications.routingrule"
    ).exists()
    assert client.get("/admin/notifications/routingrule/").status_code == 200


def test_a_risk_manager_cannot_see_or_edit_routing(db, client, make_user):
    client.force_login(make_user(Role.RISK_MANAGER))
    assert client.get("/admin/notifications/routingrule/").status_code == 403
    response = client.post(
        "/admin/notifications/routingrule/add/", {"name": "x", "channel": "email"}
    )
    assert response.status_code == 403
    assert not RoutingRule.objects.filter(name="x").exists()


def delivery_count(channel: str, severity: str, status: str) -> float:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    value = registry.get_sample_value(
        "alert_delivery_total", {"channel": channel, "severity": severity, "status": status}
    )
    return value or 0.0


def test_each_delivery_attempt_is_counted(
    db, settings, receiver, retries, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = receiver.url
    RoutingRule.objects.all().delete()
    RoutingRule.objects.create(name="slack", channel="slack")
    sent, retried = (
        delivery_count("slack", "warning", "sent"),
        delivery_count("slack", "warning", "retrying"),
    )
    receiver.statuses.append(500)
    with django_capture_on_commit_callbacks(execute=True):
        alert_notify(kind="k", severity="warning", subject="s", text="t", payload={})
    assert delivery_count("slack", "warning", "sent") == sent + 1
    assert delivery_count("slack", "warning", "retrying") == retried + 1
