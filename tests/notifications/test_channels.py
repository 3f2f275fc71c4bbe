"""Slack, Telegram and PagerDuty: each delivered to a real HTTP server on the loopback (their
base URLs are settings), with the payload shape each service expects; 500s retried."""

import json

import pytest

from apps.notifications.models import Delivery, RoutingRule
from apps.notifications.services import alert_notify

BOT_TOKEN = "123456:telegram-test-token-do-not-log"
ROUTING_KEY = "pd-routing-key-0123456789abcdef"


@pytest.fixture
def channels(settings, receiver, db):
    """Every channel pointed at the local server; one routing rule per channel for critical."""
    settings.SLACK_WEBHOOK_URL = f"{receiver.base}/services/T000/B000/slack-secret"
    settings.TELEGRAM_API_BASE = receiver.base
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_CHAT_ID = "-1001234567890"
    settings.PAGERDUTY_EVENTS_URL = f"{receiver.base}/v2/enqueue"
    settings.PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    settings.SITE_URL = "https://compliance.example.com"
    RoutingRule.objects.all().delete()
    return receiver


def route_only(channel: str, **fields) -> None:
    RoutingRule.objects.all().delete()
    RoutingRule.objects.create(name=channel, channel=channel, severity="critical", **fields)


def breach(django_capture_on_commit_callbacks) -> list[Delivery]:
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = alert_notify(
            kind="limit_breach",
            severity="critical",
            subject="ES-97.5 breached on ACC-001: 12.4% of NAV",
            text="Expected shortfall 12.4% of NAV is above the limit of 10%.",
            payload={"rule": "PF-ES-1", "observed": "12.4", "threshold": "10"},
            object_type="monitoring.violation",
            object_id=17,
        )
    return [Delivery.objects.get(pk=d.pk) for d in deliveries]


def test_slack_gets_an_incoming_webhook_message(channels, django_capture_on_commit_callbacks):
    route_only("slack")
    [delivery] = breach(django_capture_on_commit_callbacks)
    assert delivery.channel == "slack" and delivery.status == "sent"
    assert delivery.target == "SLACK_WEBHOOK_URL"  # the URL (a credential) is not stored
    [hit] = channels.hits
    assert hit["path"] == "/services/T000/B000/slack-secret"
    assert hit["headers"]["content-type"] == "application/json"
    message = json.loads(hit["body"])
    assert message["text"] == "[CRITICAL] ES-97.5 breached on ACC-001: 12.4% of NAV"
    header, section, context = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "ES-97.5 breached on ACC-001: 12.4% of NAV"},
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "above the limit of 10%" in section["text"]["text"]
    assert context["type"] == "context"
    assert "limit_breach" in context["elements"][0]["text"]


def test_telegram_gets_send_message_on_its_bot_path(channels, django_capture_on_commit_callbacks):
    route_only("telegram")
    channels.reply = b'{"ok": true, "result": {"message_id": 5}}'
    [delivery] = breach(django_capture_on_commit_callbacks)
    assert delivery.channel == "telegram" and delivery.status == "sent"
    assert delivery.target == "-1001234567890"
    [hit] = channels.hits
    assert hit["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    message = json.loads(hit["body"])
    assert message["chat_id"] == "-1001234567890"
    assert message["text"].startswith("[CRITICAL] ES-97.5 breached on ACC-001")
    assert "above the limit of 10%" in message["text"]
    assert message["disable_web_page_preview"] is True
    stored = json.dumps([delivery.target, delivery.payload, delivery.last_error])
    assert BOT_TOKEN not in stored


def test_telegram_answer_without_ok_is_a_failure_that_hides_the_token(
    channels, django_capture_on_commit_callbacks
):
    route_only("telegram", target="@compliance_alerts")
    channels.reply = b'{"ok": false, "description": "chat not found"}'
    [delivery] = breach(django_capture_on_commit_callbacks)
    assert delivery.status == "failed" and delivery.target == "@compliance_alerts"
    assert BOT_TOKEN not in delivery.last_error


def test_pagerduty_gets_an_events_v2_trigger(channels, django_capture_on_commit_callbacks):
    route_only("pagerduty")
    channels.statuses.append(202)
    [delivery] = breach(django_capture_on_commit_callbacks)
    assert delivery.channel == "pagerduty" and delivery.status == "sent"
    assert delivery.response_status == 202
    [hit] = channels.hits
    assert hit["path"] == "/v2/enqueue"
    event = json.loads(hit["body"])
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "monitoring.violation:17"
    payload = event["payload"]
    assert payload["summary"] == "ES-97.5 breached on ACC-001: 12.4% of NAV"
    assert payload["severity"] == "critical"
    assert payload["source"] == "compliance.example.com"
    assert payload["class"] == "limit_breach"
    assert payload["timestamp"].endswith("Z")
    assert payload["custom_details"]["rule"] == "PF-ES-1"
    assert event["links"][0]["href"] == "https://compliance.example.com/dashboard/"
    assert ROUTING_KEY not in json.dumps([delivery.target, delivery.payload])


@pytest.mark.parametrize("channel", ["slack", "telegram", "pagerduty"])
def test_a_500_is_retried_until_it_goes_through(
    channels, channel, retries, django_capture_on_commit_callbacks
):
    route_only(channel)
    channels.reply = b'{"ok": true}'
    channels.statuses.extend([500, 502])
    [delivery] = breach(django_capture_on_commit_callbacks)
    assert delivery.status == "sent" and delivery.attempts == 3
    assert retries == [30, 60]
    assert len(channels.hits) == 3
    bodies = {hit["body"] for hit in channels.hits}
    assert len(bodies) == 1  # the same message each time


def test_a_channel_without_its_setting_fails_without_retrying(
    channels, settings, retries, django_capture_on_commit_callbacks
):
    route_only("slack")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [delivery] = alert_notify(
            kind="limit_breach", severity="critical", subject="s", text="t", payload={}
        )
    settings.SLACK_WEBHOOK_URL = ""  # removed between recording and sending
    for callback in callbacks:
        callback()
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "SLACK_WEBHOOK_URL is not set" in delivery.last_error
    assert retries == []
