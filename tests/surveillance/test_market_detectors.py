"""The detectors that read the market's tape: ramping / momentum ignition, and marking the
close weighed by share of volume, each with the look-alikes that must not alert."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.core.errors import ValidationFailed
from apps.marketdata.context import InMemoryMarket
from apps.surveillance.detectors.ramping import RampingDetector
from apps.surveillance.runner import StreamContext
from tests.surveillance.streams import T0, Stream, findings

CALENDARS = {"AAPL": "XNYS"}  # 2025-11-20 is a Thursday; NYSE closes at 21:00 UTC
CLOSE = "2025-11-20T21:00:00"


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() - T0


def _minutes_before_close(minutes: float) -> float:
    return _at(CLOSE) - minutes * 60


def _ramp(s: Stream, accounts=("A",), side="buy", start_minutes=28, step="0.003"):
    """Six executions 5 minutes apart, each `step` beyond a reference that follows the price:
    +181 bp in all for 30 bp steps up. Returns the market prints they made."""
    price = Decimal("100.00")
    factor = 1 + Decimal(step) if side == "buy" else 1 - Decimal(step)
    prints = []
    for i in range(6):
        reference = price
        price = (reference * factor).quantize(Decimal("0.0001"))
        t = _minutes_before_close(start_minutes - 5 * i)
        order = s.order(t, accounts[i % len(accounts)], "AAPL", side, "1000", price, ref=reference)
        s.fill(t, order, "1000", price)
        prints.append(("AAPL", T0 + t, price, Decimal(1000)))
    return prints


def _context(trades=(), quotes=()):
    market = InMemoryMarket(trades=trades, quotes=quotes) if trades or quotes else None
    return StreamContext(CALENDARS, market=market)


# --- ramping ----------------------------------------------------------------------------------


def test_a_ramp_into_the_close_of_small_steps_is_caught_without_market_data():
    """The issue's miss: six buys, each +30 bp over a reference that follows the price up."""
    s = Stream(owners={"A": "Nadia Petrov"})
    _ramp(s)
    context = _context()
    assert findings(s, "marking_close", context=context) == []  # each step is only 30 bp
    found = findings(s, "ramping", context=context)
    assert found, "the cumulative move must be caught"
    last = found[-1]
    assert last.details["move_bps"] == "181.35" and last.details["executions"] == 6
    assert last.details["move_measured_on"] == "own executions"
    assert last.details["into_close"] is True and last.details["grouping"] == "owner"
    assert "into the close" in last.title and len(last.fills) == 6
    assert len({f.key for f in found}) == 1  # one pattern, one alert


def test_a_ramp_is_measured_on_the_market_with_its_share_of_volume():
    s = Stream(owners={"A": "Nadia Petrov"})
    prints = _ramp(s)
    before = ("AAPL", T0 + _minutes_before_close(29), Decimal("100.00"), Decimal("400"))
    others = [("AAPL", p[1] + 30, p[2], Decimal("100")) for p in prints]
    quotes = [("AAPL", p[1] - 1, p[2] - Decimal("0.05"), 100, p[2], 100) for p in prints]
    found = findings(s, "ramping", context=_context([before, *prints, *others], quotes))
    last = found[-1]
    assert last.details["move_measured_on"] == "market"
    assert last.details["move_bps"] == "181.35"
    # 6,000 of the 6,500 traded from the first execution to the last
    assert Decimal(last.details["share_of_volume"]) > Decimal("0.9")
    # bought at the ask: through the bid by the spread
    assert last.details["last_distance_from_touch_bps"] == "-4.91"
    assert last.score >= Decimal("0.9")


def test_a_ramp_split_across_one_owners_accounts_is_one_pattern():
    s = Stream(owners={"A1": "Petrov", "A2": "Petrov"})
    _ramp(s, accounts=("A1", "A2"))
    found = findings(s, "ramping", context=_context())
    assert found and {f.key for f in found} == {found[0].key}
    assert found[-1].details["accounts"] == ["A1", "A2"]


def test_a_ramp_down_at_midday_is_caught_over_any_window():
    s = Stream()
    _ramp(s, side="sell", start_minutes=300)  # 16:00 to 16:25 UTC
    found = findings(s, "ramping", context=_context())
    assert found and found[-1].details["into_close"] is False
    assert found[-1].details["move_bps"] == "178.65" and "sells" in found[-1].title


def test_a_vwap_algo_buying_into_a_rising_close_with_a_small_share_is_not_ramping():
    """Look-alike: ten slices of 100 into the close while the market (others) rises 135 bp on
    20,000 shares: the algo follows the price, it does not move it."""
    s = Stream()
    trades = []
    for i in range(10):
        t = _minutes_before_close(25 - 2.5 * i)
        market_price = (Decimal("100") * (1 + Decimal("0.0015") * i)).quantize(Decimal("0.01"))
        trades.append(("AAPL", T0 + t - 5, market_price, Decimal("2000")))
        order = s.order(t, "ALGO", "AAPL", "buy", "100", market_price, ref=market_price)
        s.fill(t, order, "100", market_price)
        trades.append(("AAPL", T0 + t, market_price, Decimal("100")))
    context = _context(trades)
    assert findings(s, "ramping", context=context) == []
    assert findings(s, "marking_close", context=context) == []
    # the same flow without the tape: the algo's own prices rose 135 bp, and that alone alerts
    assert findings(s, "ramping", context=_context())


def test_a_vwap_algo_in_a_flat_market_is_not_ramping_without_market_data():
    s = Stream()
    for i in range(10):
        t = _minutes_before_close(25 - 2.5 * i)
        price = Decimal("100.00") + Decimal("0.01") * (i % 2)
        order = s.order(t, "ALGO", "AAPL", "buy", "100", price, ref=Decimal("100.00"))
        s.fill(t, order, "100", price)
    assert findings(s, "ramping", context=_context()) == []


def test_a_market_makers_bids_filled_in_a_rising_market_are_not_ramping():
    """Look-alike: a market maker's resting bid, 5 bp under the offer, is hit by sellers six
    times while others lift the offers 130 bp higher: half the volume and the price moved its
    way, but it gave liquidity at the bid, it did not push the price."""
    s = Stream(owners={"MM": "Maker"})
    trades, quotes = [], []
    for i in range(6):
        t = _minutes_before_close(28 - 5 * i)
        mid = (Decimal("100") * (1 + Decimal("0.0026") * i)).quantize(Decimal("0.01"))
        bid, ask = mid - Decimal("0.02"), mid + Decimal("0.03")
        quotes.append(("AAPL", T0 + t - 2, bid, 500, ask, 500))
        trades.append(("AAPL", T0 + t - 1, ask, Decimal("1000")))  # others lifting the offer
        order = s.order(t - 30, "MM", "AAPL", "buy", "1000", bid, ref=mid)
        s.fill(t, order, "1000", bid)
        trades.append(("AAPL", T0 + t, bid, Decimal("1000")))
    context = _context(trades, quotes)
    assert findings(s, "ramping", context=context) == []
    # the same fills lifting the offer instead would be taking liquidity: counted
    taker = Stream(owners={"MM": "Maker"})
    lifted = []
    for i in range(6):
        t = _minutes_before_close(28 - 5 * i)
        ask = quotes[i][4]
        order = taker.order(t, "MM", "AAPL", "buy", "1000", ask, ref=ask)
        taker.fill(t, order, "1000", ask)
        lifted.append(("AAPL", T0 + t, ask, Decimal("1000")))
    first = ("AAPL", T0 + _minutes_before_close(29), Decimal("99.95"), Decimal("500"))
    assert findings(taker, "ramping", context=_context([first, *lifted], quotes))


def test_ramping_parameters_are_checked():
    with pytest.raises(ValidationFailed) as refused:
        RampingDetector({"min_share_of_volume": "1.5", "touch_tolerance_bps": "-1"})
    assert "min_share_of_volume" in refused.value.details
    assert "touch_tolerance_bps" in refused.value.details


# --- marking the close with market data -------------------------------------------------------


def _auction_order(s: Stream, account="MOC", qty="500"):
    """A market-on-close buy that takes the closing auction price, 53 bp over a stale
    reference from the afternoon."""
    t = _at(CLOSE)
    order = s.order(t - 120, account, "AAPL", "buy", qty, "190.00", ref="189.00")
    s.fill(t, order, qty, "190.00")


def test_a_closing_auction_order_at_the_auction_price_is_not_marking_the_close():
    s = Stream()
    _auction_order(s)
    t = T0 + _at(CLOSE)
    trades = [
        ("AAPL", t - 500, Decimal("189.80"), Decimal("3000")),
        ("AAPL", t, Decimal("190.00"), Decimal("90000"), "closing_auction"),
    ]
    context = _context(trades)
    # the order is a sixth of the window's volume so far; its fill, at the auction price, a
    # small part of the auction: a price taker, not a marker
    assert findings(s, "marking_close", context=context) == []
    assert findings(s, "ramping", context=context) == []


def test_marking_the_close_with_a_large_share_carries_the_markets_figures():
    s = Stream()
    t = _minutes_before_close(3)
    order = s.order(t, "A", "AAPL", "buy", "5000", "191.00", ref="189.00")
    s.fill(t, order, "5000", "191.00")
    close = T0 + _at(CLOSE)
    trades = [
        ("AAPL", close - 700, Decimal("189.00"), Decimal("500")),
        ("AAPL", close - 500, Decimal("189.00"), Decimal("1000")),
        ("AAPL", T0 + t, Decimal("191.00"), Decimal("5000")),
        ("AAPL", close, Decimal("191.10"), Decimal("8000"), "closing_auction"),
    ]
    found = findings(s, "marking_close", context=_context(trades))
    trade = next(f for f in found if "trade" in f.title)
    assert trade.details["share_of_volume"] == "0.8333"
    assert trade.details["market_move_bps"] == "105.82"
    assert trade.details["closing_price"] == "191.10"
    assert trade.score > Decimal("0.9")


def test_marking_the_close_without_market_data_is_unchanged():
    s = Stream()
    _auction_order(s)
    found = findings(s, "marking_close", context=_context())
    assert [f for f in found if "trade" in f.title]  # no tape: the price alone decides
