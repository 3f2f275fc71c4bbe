"""Fills are facts checked at the door (`POST /api/v1/orders/{id}/fills/`): a fill its order
could not have had is a 400 with every reason and stores nothing; look-alikes are booked.

The desk: BTC-USD with a fresh reference price of 112,000, a firm-wide price collar of 5%
(market band 5%), and orders sent through the gate by a trader.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import rfc3339, utcnow
from apps.rbac.roles import Role, ServiceRole
from apps.surveillance.models import ExecutionReport
from apps.trading.models import Fill, Order, Position, WorkingExposure, is_sell
from apps.trading.pricing import fill_price_within, protected_price
from apps.trading.venues import venue_problem
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import InstrumentFactory, ReferencePriceFactory

ORDERS = "/api/v1/orders/"


@pytest.fixture
def btc(db):
    instrument = InstrumentFactory(
        symbol="BTC-USD", mic="XOFF", asset_class="crypto", sector="Crypto", calendar="24/7"
    )
    ReferencePriceFactory(instrument=instrument, price=Decimal("112000"))
    return instrument


@pytest.fixture
def trader(api_client_for, account, btc):
    make_rule("price_collar", {"max_deviation_pct": "5"}, code="PX-COLLAR-1")
    return api_client_for(Role.TRADER)


def send(trader, client_order_id="o-1", **overrides) -> Order:
    body = order_body(
        client_order_id,
        **{"instrument": "BTC-USD", "quantity": "2", "limit_price": "112000"} | overrides,
    )
    response = trader.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "accepted", response.json()["checks"]
    return Order.objects.get(pk=response.json()["id"])


def fill_body(order: Order, **overrides) -> dict:
    """A fill of the whole order at its limit, one second after it was submitted, on XOFF."""
    body = {
        "exec_id": f"X-{order.pk}-{len(overrides)}",
        "quantity": "2",
        "price": "112000",
        "venue": "XOFF",
        "executed_at": rfc3339(order.created_at + timedelta(seconds=1)),
        "liquidity": "removed",
    }
    body.update(overrides)
    return body


def post_fill(trader, order: Order, **overrides):
    return trader.post(f"{ORDERS}{order.pk}/fills/", fill_body(order, **overrides), format="json")


def assert_nothing_stored(order: Order) -> None:
    assert not Fill.objects.exists()
    assert not Position.objects.exists()
    assert not AuditEvent.objects.filter(event_type__in=["ORDER_FILLED", "POSITION_CHANGED"])
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.filled_quantity) == ("accepted", Decimal("0"))
    exposure = WorkingExposure.objects.get(account=order.account, instrument=order.instrument)
    assert exposure.buy_quantity + exposure.sell_quantity == order.quantity


# --- refused --------------------------------------------------------------------------------


REFUSALS = [
    pytest.param(
        {},
        lambda o: {"price": "999999"},
        "price",
        "A buy limited at 112000 cannot fill at 999999, above its limit.",
        id="buy-at-999999-against-a-112000-limit",
    ),
    pytest.param(
        {"side": "sell"},
        lambda o: {"price": "111999.99"},
        "price",
        "A sell limited at 112000 cannot fill at 111999.99, below its limit.",
        id="sell-below-its-limit",
    ),
    pytest.param(
        {},
        lambda o: {"executed_at": "1990-03-01T10:00:00Z"},
        "executed_at",
        "1990-03-01T10:00:00.000000Z is before the order was submitted",
        id="dated-1990",
    ),
    pytest.param(
        {},
        lambda o: {"executed_at": rfc3339(o.created_at - timedelta(days=12))},
        "executed_at",
        "is before the order was submitted",
        id="twelve-days-before-its-order",
    ),
    pytest.param(
        {},
        lambda o: {"executed_at": rfc3339(utcnow() + timedelta(hours=1))},
        "executed_at",
        "lies in the future",
        id="in-the-future",
    ),
    pytest.param(
        {},
        lambda o: {"venue": "ZZZZ"},
        "venue",
        "ZZZZ is not an ISO 10383 MIC (XOFF for off exchange, XXXX for no market).",
        id="venue-ZZZZ",
    ),
    pytest.param(
        {},
        lambda o: {"venue": "AIXE"},
        "venue",
        "The MIC AIXE (AIXECUTE) expired on 2017-12-25.",
        id="venue-expired-before-the-trade",
    ),
    pytest.param(
        {},
        lambda o: {"quantity": "2.00000001"},
        "quantity",
        "At most 2 of the order remains open.",
        id="over-the-open-quantity",
    ),
    pytest.param(
        {"order_type": "market", "limit_price": None},
        lambda o: {"price": "117600.01"},
        "price",
        "A market buy protected at 117600 (the reference 112000 moved 5% against it) cannot "
        "fill at 117600.01, above its limit.",
        id="market-buy-outside-its-band",
    ),
    pytest.param(
        {"order_type": "market", "limit_price": None, "side": "sell"},
        lambda o: {"price": "106399.99"},
        "price",
        "A market sell protected at 106400 (the reference 112000 moved 5% against it) cannot "
        "fill at 106399.99, below its limit.",
        id="market-sell-outside-its-band",
    ),
]


@pytest.mark.parametrize(("order", "fill", "field", "message"), REFUSALS)
def test_a_fill_its_order_could_not_have_had_is_refused(trader, order, fill, field, message):
    sent = send(trader, **order)
    response = post_fill(trader, sent, **fill(sent))
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]
    assert message in error["details"][field][0]
    assert_nothing_stored(sent)


def test_every_reason_is_given_at_once(trader):
    sent = send(trader)
    response = post_fill(
        trader,
        sent,
        price="999999",
        executed_at="1990-03-01T10:00:00Z",
        venue="ZZZZ",
        quantity="3",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"price", "executed_at", "venue", "quantity"}
    assert_nothing_stored(sent)


def test_a_second_fill_may_not_exceed_what_the_first_left_open(trader):
    sent = send(trader)
    assert post_fill(trader, sent, exec_id="A", quantity="1.5").status_code == 201
    response = post_fill(trader, sent, exec_id="B", quantity="0.6")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "quantity": ["At most 0.5 of the order remains open."]
    }
    assert Fill.objects.count() == 1


def test_a_fill_or_kill_order_fills_in_full_or_not_at_all(trader):
    sent = send(trader, "fok-1", time_in_force="fok")
    response = post_fill(trader, sent, exec_id="F-1", quantity="1")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "quantity": ["A fill-or-kill order fills in full (2) or not at all."]
    }
    assert_nothing_stored(sent)
    assert post_fill(trader, sent, exec_id="F-2", quantity="2").status_code == 201


# --- look-alikes: booked --------------------------------------------------------------------


LOOK_ALIKES = [
    pytest.param({}, {}, id="buy-at-exactly-its-limit"),
    pytest.param({}, {"price": "111000"}, id="buy-below-its-limit"),
    pytest.param({"side": "sell"}, {"price": "112000"}, id="sell-at-exactly-its-limit"),
    pytest.param({"side": "sell"}, {"price": "113500"}, id="sell-above-its-limit"),
    pytest.param({}, {"venue": "XOFF"}, id="venue-XOFF"),
    pytest.param({}, {"venue": "XXXX"}, id="venue-XXXX"),
    pytest.param({}, {"venue": "XNAS"}, id="venue-a-listed-MIC"),
    pytest.param({}, {"quantity": "0.5"}, id="part-of-the-order"),
    pytest.param(
        {"order_type": "market", "limit_price": None},
        {"price": "117600"},
        id="market-buy-at-exactly-its-protected-price",
    ),
    pytest.param(
        {"order_type": "market", "limit_price": None, "side": "sell"},
        {"price": "106400"},
        id="market-sell-at-exactly-its-protected-price",
    ),
]


@pytest.mark.parametrize(("order", "fill"), LOOK_ALIKES)
def test_a_fill_that_fits_its_order_is_booked(trader, order, fill):
    sent = send(trader, **order)
    response = post_fill(trader, sent, **fill)
    assert response.status_code == 201, response.json()
    assert Fill.objects.filter(order=sent).count() == 1


def test_a_fill_one_second_after_its_order_is_booked(trader):
    sent = send(trader)
    response = post_fill(trader, sent, executed_at=rfc3339(sent.created_at + timedelta(seconds=1)))
    assert response.status_code == 201, response.json()


def test_a_clock_a_little_behind_ours_is_tolerated(trader):
    # The venue's clock half a second behind ours: the fill reads as just before the order.
    sent = send(trader)
    early = rfc3339(sent.created_at - timedelta(milliseconds=500))
    assert post_fill(trader, sent, executed_at=early).status_code == 201


def test_a_drop_copy_is_kept_whatever_it_says(trader, api_client_for):
    """Drop copies are the venue's facts for surveillance to reconcile: not refused at the door
    for a price, a time or a venue that the gate's order could not have had."""
    sent = send(trader)
    response = api_client_for(ServiceRole.FEED).post(
        "/api/v1/surveillance/executions/",
        {
            "exec_id": "V-1",
            "account": "ACC-T1",
            "instrument": "BTC-USD",
            "client_order_id": sent.client_order_id,
            "side": "buy",
            "quantity": "5",
            "price": "999999",
            "venue": "ZZZZ",
            "executed_at": "1990-03-01T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert ExecutionReport.objects.get().order_id == sent.pk


# --- the price functions, for every side ----------------------------------------------------


@pytest.mark.parametrize(
    ("side", "sells"),
    [("buy", False), ("sell", True), ("sell_short", True), ("sell_short_exempt", True)],
)
def test_every_sell_side_is_held_to_a_floor_and_a_buy_to_a_ceiling(side, sells):
    assert is_sell(side) is sells
    limit = Decimal("100")
    assert fill_price_within(side, limit, limit)
    assert fill_price_within(side, Decimal("101"), limit) is sells
    assert fill_price_within(side, Decimal("99"), limit) is not sells
    expected = Decimal("95") if sells else Decimal("105")
    assert protected_price(side, limit, Decimal("5")) == expected


def test_the_shipped_mic_list():
    on = utcnow().date()
    for mic in ("XOFF", "XXXX", "XNYS", "XNAS", "BATS", "XETR", "XPAR", "XLON", "XCME", "IEXG"):
        assert venue_problem(mic, on) is None, mic
    assert "not an ISO 10383 MIC" in venue_problem("ZZZZ", on)
    # An expired MIC is still good for a trade done before it expired.
    assert venue_problem("AIXE", utcnow().date().replace(year=2016)) is None
