"""The market context the detectors ask: the same answers from the in-memory tape and from the
database, and no query per question once an instrument's day is loaded."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.marketdata.context import DatabaseMarket, InMemoryMarket, market_from_database
from apps.marketdata.models import MarketQuote, MarketTrade
from apps.surveillance.runner import StreamContext
from tests.trading.factories import InstrumentFactory

T0 = datetime(2025, 11, 20, 20, 0, tzinfo=UTC).timestamp()  # 15:00 in New York

TRADES = [
    ("AAPL", T0 - 86400, "180.00", "50"),  # the day before
    ("AAPL", T0 + 0, "190.00", "100"),
    ("AAPL", T0 + 60, "191.00", "200"),
    ("AAPL", T0 + 120, "192.00", "300"),
    ("AAPL", T0 + 3600, "193.90", "5000", "closing_auction"),
    ("MSFT", T0 + 10, "400.00", "10"),
]
QUOTES = [
    ("AAPL", T0 + 30, "190.40", "100", "190.60", "100", "XNAS"),
    ("AAPL", T0 + 40, "190.45", "100", "190.70", "100", "XNYS"),
    ("AAPL", T0 + 90, "191.40", "100", "191.50", "100", "XNAS"),
]


def _database_market() -> DatabaseMarket:
    instruments = {s: InstrumentFactory(symbol=s) for s in ("AAPL", "MSFT", "IBM")}
    MarketTrade.objects.bulk_create(
        MarketTrade(
            instrument=instruments[symbol],
            executed_at=datetime.fromtimestamp(ts, tz=UTC),
            price=Decimal(price),
            quantity=Decimal(qty),
            venue="XNAS",
            condition=rest[0] if rest else "regular",
        )
        for symbol, ts, price, qty, *rest in TRADES
    )
    MarketQuote.objects.bulk_create(
        MarketQuote(
            instrument=instruments[symbol],
            quoted_at=datetime.fromtimestamp(ts, tz=UTC),
            bid=Decimal(bid),
            bid_size=Decimal(bid_size),
            ask=Decimal(ask),
            ask_size=Decimal(ask_size),
            venue=venue,
        )
        for symbol, ts, bid, bid_size, ask, ask_size, venue in QUOTES
    )
    return DatabaseMarket()


@pytest.fixture(params=["memory", "database"])
def market(request):
    if request.param == "memory":
        return InMemoryMarket(trades=TRADES, quotes=QUOTES)
    request.getfixturevalue("db")
    return _database_market()


def test_price_move_from_the_last_print_before_start_to_the_last_before_end(market):
    assert market.price_move_bp("AAPL", T0 + 1, T0 + 120) == Decimal("105.26")
    assert market.price_move_bp("AAPL", T0 - 1, T0 + 59) == Decimal("555.56")  # from yesterday
    assert market.price_move_bp("AAPL", T0 + 1, T0 + 30) == Decimal("0.00")
    assert market.price_move_bp("IBM", T0, T0 + 60) is None  # no prints
    assert market.price_move_bp("NOPE", T0, T0 + 60) is None  # not an instrument


def test_volume_and_share_of_volume(market):
    assert market.volume("AAPL", T0, T0 + 120) == Decimal("600")  # both ends counted
    assert market.volume("AAPL", T0 + 1, T0 + 119) == Decimal("200")
    assert market.volume("IBM", T0, T0 + 60) == Decimal("0")
    assert market.share_of_volume("AAPL", T0, T0 + 120, Decimal("150")) == Decimal("0.25")
    assert market.share_of_volume("IBM", T0, T0 + 60, Decimal("1")) is None


def test_touch_is_the_best_of_each_venues_last_quote(market):
    assert market.touch("AAPL", T0 + 29) is None
    assert market.touch("AAPL", T0 + 35) == (Decimal("190.40"), Decimal("190.60"))
    assert market.touch("AAPL", T0 + 45) == (Decimal("190.45"), Decimal("190.60"))
    assert market.touch("AAPL", T0 + 95) == (Decimal("191.40"), Decimal("190.70"))
    assert market.touch("MSFT", T0 + 95) is None


def test_distance_from_the_touch(market):
    # a buy 10 cents below the best bid is behind it; a buy at the ask is through it
    assert market.distance_from_touch_bp("AAPL", T0 + 35, "buy", Decimal("190.30")) == Decimal(
        "5.25"
    )
    assert market.distance_from_touch_bp("AAPL", T0 + 35, "buy", Decimal("190.60")) < 0
    assert market.distance_from_touch_bp("AAPL", T0 + 35, "sell", Decimal("190.80")) == Decimal(
        "10.49"
    )
    assert market.distance_from_touch_bp("AAPL", T0 + 1, "buy", Decimal("190")) is None


def test_closing_price_is_the_closing_auction_print_else_the_last(market):
    assert market.closing_price("AAPL", "2025-11-20") == Decimal("193.90")
    assert market.closing_price("AAPL", "2025-11-19") == Decimal("180.00")
    assert market.closing_price("MSFT", "2025-11-20") == Decimal("400.00")
    assert market.closing_price("AAPL", "2025-11-21") is None


def test_the_database_market_loads_an_instrument_once_per_span(db, django_assert_num_queries):
    market = _database_market()
    market.volume("AAPL", T0, T0 + 1)  # loads the instrument table and AAPL's days
    with django_assert_num_queries(0):
        for second in range(0, 3600, 10):
            market.price_move_bp("AAPL", T0, T0 + second)
            market.touch("AAPL", T0 + second)
            market.share_of_volume("AAPL", T0, T0 + second, Decimal(1))


def test_the_run_has_a_market_only_when_market_data_is_recorded(db):
    assert market_from_database() is None
    assert StreamContext.from_database().market is None
    _database_market()
    assert isinstance(StreamContext.from_database().market, DatabaseMarket)
