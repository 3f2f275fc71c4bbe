"""The market-data feed over HTTP: only the Feed posts, risk reads; every row checked, one bad
row refuses the batch (400, nothing stored); a print sent twice is stored once."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import rfc3339, utcnow
from apps.marketdata.models import MarketQuote, MarketTrade
from apps.rbac.roles import Role, ServiceRole
from tests.permissions import assert_api_role_required

TRADES = "/api/v1/market-data/trades/"
QUOTES = "/api/v1/market-data/quotes/"


def a_trade(**overrides) -> dict:
    row = {
        "instrument": "AAPL",
        "executed_at": rfc3339(utcnow() - timedelta(minutes=5)),
        "price": "189.52",
        "quantity": "300",
        "venue": "XNAS",
        "trade_id": "T-1",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}


def a_quote(**overrides) -> dict:
    row = {
        "instrument": "AAPL",
        "quoted_at": rfc3339(utcnow() - timedelta(minutes=5)),
        "bid": "189.50",
        "bid_size": "400",
        "ask": "189.53",
        "ask_size": "300",
        "venue": "XNAS",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}


@pytest.fixture
def feed(api_client_for, instrument):
    return api_client_for(ServiceRole.FEED)


def test_posting_market_data_needs_the_feed(api_client_for, instrument):
    assert_api_role_required(
        api_client_for, "post", TRADES, ServiceRole.FEED, {"trades": [a_trade()]}
    )
    assert_api_role_required(
        api_client_for, "post", QUOTES, ServiceRole.FEED, {"quotes": [a_quote()]}
    )
    # only the feed's posts were kept
    assert MarketTrade.objects.count() == 1 and MarketQuote.objects.count() == 1


def test_reading_market_data_needs_a_risk_manager(api_client_for, instrument):
    assert_api_role_required(api_client_for, "get", TRADES, Role.RISK_MANAGER)
    assert_api_role_required(api_client_for, "get", QUOTES, Role.RISK_MANAGER)


def test_a_batch_of_trades_is_recorded_with_one_audit_event(feed, api_client_for):
    feed_user = feed.user
    body = {
        "trades": [
            a_trade(trade_id="T-1"),
            a_trade(trade_id="T-2", price="189.60", condition="closing_auction"),
            a_trade(trade_id=..., instrument="US0378331005", venue="XNYS"),
        ]
    }
    response = feed.post(TRADES, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"received": 3, "recorded": 3, "duplicates": 0}
    assert MarketTrade.objects.filter(condition="closing_auction").get().price == Decimal("189.6")
    event = AuditEvent.objects.get(event_type="MARKET_DATA_RECORDED")
    payload = json.loads(event.record)["payload"]
    assert payload["recorded"] == 3 and payload["kind"] == "trades"
    assert payload["instruments"] == ["AAPL"] and payload["source"] == "api"
    assert event.actor == feed_user.username
    assert MarketTrade.objects.filter(received_by=feed_user).count() == 3
    listed = api_client_for(Role.RISK_MANAGER).get(TRADES, {"instrument": "AAPL"}).json()
    assert listed["count"] == 3


def test_the_same_print_twice_is_stored_once(feed):
    row = a_trade(trade_id="T-9")
    first = feed.post(TRADES, {"trades": [row, row]}, format="json")
    assert first.json() == {"received": 2, "recorded": 1, "duplicates": 1}
    again = feed.post(TRADES, {"trades": [{**row, "price": "189.520"}]}, format="json")
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    # the same id on another venue is another print
    other = feed.post(TRADES, {"trades": [{**row, "venue": "XNYS"}]}, format="json")
    assert other.status_code == 201
    assert MarketTrade.objects.count() == 2
    assert AuditEvent.objects.filter(event_type="MARKET_DATA_RECORDED").count() == 2


def test_one_trade_id_twice_in_a_batch_with_other_values_is_a_400(feed):
    row = a_trade(trade_id="T-7")
    response = feed.post(TRADES, {"trades": [row, {**row, "quantity": "301"}]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["trades[1].trade_id"]
    assert not MarketTrade.objects.exists()


def test_a_trade_id_reused_with_other_values_is_a_conflict(feed):
    feed.post(TRADES, {"trades": [a_trade(trade_id="T-5")]}, format="json")
    body = {"trades": [a_trade(trade_id="T-6"), a_trade(trade_id="T-5", price="190")]}
    response = feed.post(TRADES, body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "market_trade_conflict"
    assert "trades[1].trade_id" in response.json()["error"]["details"]
    assert list(MarketTrade.objects.values_list("trade_id", flat=True)) == ["T-5"]


FUTURE = rfc3339(utcnow() + timedelta(hours=1))


@pytest.mark.parametrize(
    "row",
    [
        a_trade(price="0"),
        a_trade(price="-1"),
        a_trade(price=189.5),
        a_trade(quantity="abc"),
        a_trade(executed_at=FUTURE),
        a_trade(executed_at="2026-11-20T15:00:00"),  # no offset
        a_trade(venue="QQQQ"),
        a_trade(venue="xnas"),
        a_trade(instrument="NOPE"),
        a_trade(condition="dark"),
        a_trade(colour="blue"),
        a_trade(price=...),
        "not an object",
    ],
)
def test_a_bad_trade_refuses_the_whole_batch(feed, row):
    response = feed.post(TRADES, {"trades": [a_trade(trade_id="OK-1"), row]}, format="json")
    assert response.status_code == 400, response.json()
    details = response.json()["error"]["details"]
    assert all(key.startswith("trades[1]") for key in details), details
    assert not MarketTrade.objects.exists()
    assert not AuditEvent.objects.filter(event_type="MARKET_DATA_RECORDED").exists()


@pytest.mark.parametrize(
    "body",
    [
        [a_trade()],
        {"trades": a_trade()},
        {"trades": []},
        {"trades": [a_trade()], "quotes": []},
        {},
    ],
)
def test_a_batch_not_shaped_as_documented_is_a_400(feed, body):
    response = feed.post(TRADES, body, format="json")
    assert response.status_code == 400, response.json()
    assert not MarketTrade.objects.exists()


def test_a_batch_over_the_limit_is_a_400(feed, settings):
    settings.MARKET_DATA_BATCH_MAX = 2
    rows = [a_trade(trade_id=f"T-{i}") for i in range(3)]
    response = feed.post(TRADES, {"trades": rows}, format="json")
    assert response.status_code == 400
    assert "MARKET_DATA_BATCH_MAX" in response.json()["error"]["details"]["trades"][0]
    assert not MarketTrade.objects.exists()


def test_quotes_are_recorded_once(feed):
    body = {"quotes": [a_quote(), a_quote(bid="189.51")]}
    response = feed.post(QUOTES, body, format="json")
    assert response.status_code == 201 and response.json()["recorded"] == 2
    again = feed.post(QUOTES, body, format="json")
    assert again.status_code == 200 and again.json()["duplicates"] == 2
    assert MarketQuote.objects.count() == 2


@pytest.mark.parametrize(
    "row",
    [
        a_quote(bid="189.60"),  # crossed
        a_quote(bid="0"),
        a_quote(ask_size="0"),
        a_quote(quoted_at=FUTURE),
        a_quote(venue="ZZZZ"),
        a_quote(instrument="NOPE"),
        a_quote(size="1"),
    ],
)
def test_a_bad_quote_refuses_the_whole_batch(feed, row):
    response = feed.post(QUOTES, {"quotes": [a_quote(), row]}, format="json")
    assert response.status_code == 400, response.json()
    assert all(k.startswith("quotes[1]") for k in response.json()["error"]["details"])
    assert not MarketQuote.objects.exists()


def test_a_locked_quote_is_accepted(feed):
    response = feed.post(QUOTES, {"quotes": [a_quote(bid="189.5", ask="189.5")]}, format="json")
    assert response.status_code == 201
