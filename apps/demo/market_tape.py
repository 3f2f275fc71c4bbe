"""A market tape for the demo, consistent with the firm's own flow and the reference prices:
quotes and prints of the rest of the market around each reference price (seed_demo), and
around each of the firm's fills (simulate_flow) the fill itself as a print on its venue, a quote
just before it and other participants' prints after it. So the detectors have market context in
the demo: price moves, share of volume, distance from the touch."""

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from apps.core.time import utcnow
from apps.marketdata.services import batch_limit, market_quotes_record, market_trades_record
from apps.trading.models import Fill, Instrument
from apps.trading.selectors import instrument_latest_price
from apps.trading.venues import venue_problem

ACTOR = "demo market feed"
TAPE_MINUTES = 60


def _on_tick(price: Decimal, tick: Decimal) -> Decimal:
    return max(tick, (price / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP) * tick)


def _size(instrument: Instrument, rng: random.Random, low: int, high: int) -> Decimal:
    lot = instrument.lot_size or Decimal(1)
    return lot * rng.randint(low, high)


def _quote(instrument, at: datetime, mid: Decimal, rng: random.Random, venue: str) -> dict:
    tick = instrument.tick_size or Decimal("0.01")
    half = tick * rng.randint(1, 2)
    bid = _on_tick(mid - half, tick)
    return {
        "instrument": instrument,
        "quoted_at": at,
        "bid": bid,
        "bid_size": _size(instrument, rng, 1, 20),
        "ask": max(bid + tick, _on_tick(mid + half, tick)),
        "ask_size": _size(instrument, rng, 1, 20),
        "venue": venue,
    }


def _record(trades: list[dict], quotes: list[dict], source: str) -> tuple[int, int]:
    recorded = [0, 0]
    size = batch_limit()
    for start in range(0, len(trades), size):
        chunk = trades[start : start + size]
        recorded[0] += market_trades_record(trades=chunk, actor=ACTOR, source=source).recorded
    for start in range(0, len(quotes), size):
        chunk = quotes[start : start + size]
        recorded[1] += market_quotes_record(quotes=chunk, actor=ACTOR, source=source).recorded
    return recorded[0], recorded[1]


def seed_market_tape(instruments, *, now: datetime | None = None) -> tuple[int, int]:
    """The last hour's tape of each instrument with a reference price and a listed venue: one
    quote and one print a minute, a gentle walk around the reference. The same minute always
    gets the same tape (seeded by instrument and minute), so a second run adds only the minutes
    that passed since: the prints carry ids, and a quote already on record is a duplicate.
    Returns the trades and quotes recorded."""
    now = (now or utcnow()).replace(second=0, microsecond=0)
    trades, quotes = [], []
    for instrument in instruments:
        latest = instrument_latest_price(instrument)
        venue = instrument.mic
        if latest is None or venue_problem(venue, now.date()) is not None:
            continue
        tick = instrument.tick_size or Decimal("0.01")
        for minute in range(TAPE_MINUTES, 0, -1):
            at = now - timedelta(minutes=minute)
            rng = random.Random(f"{instrument.symbol}-{at:%Y%m%d%H%M}")
            mid = latest.price * (1 + Decimal(str(round(rng.gauss(0, 0.0015), 6))))
            quotes.append(_quote(instrument, at, mid, rng, venue))
            trades.append(
                {
                    "instrument": instrument,
                    "executed_at": at + timedelta(seconds=rng.randint(5, 55)),
                    "price": _on_tick(mid, tick),
                    "quantity": _size(instrument, rng, 1, 50),
                    "venue": venue,
                    "trade_id": f"DEMO-{instrument.symbol}-{at:%Y%m%d%H%M}",
                }
            )
    return _record(trades, quotes, "demo")


def market_tape_for_fills(
    fills: list[Fill], rng: random.Random, *, thin: set[int] = frozenset()
) -> tuple[int, int]:
    """The market around the firm's fills: each fill as a print on its venue (its exec id as
    the trade id); before it, a print at its order's reference price and the touch; after it,
    three other participants' prints at its price give or take a tick, three to eight times
    its size in all (a fill in `thin` trades in a thin market: others trade a fifth of it, so
    its share of volume is large). The market's prints fall between the firm's fills in the
    same instrument, so the tape keeps their order; times never pass now."""
    now = utcnow()
    trades, quotes = [], []
    by_instrument: dict[int, list[Fill]] = {}
    for fill in sorted(fills, key=lambda f: (f.executed_at, f.pk)):
        by_instrument.setdefault(fill.order.instrument_id, []).append(fill)
    for run in by_instrument.values():
        for i, fill in enumerate(run):
            previous = run[i - 1].executed_at if i else None
            following = run[i + 1].executed_at if i + 1 < len(run) else None
            _around(fill, previous, following, now, rng, fill.pk in thin, trades, quotes)
    return _record(trades, quotes, "demo")


def _between(start: datetime, end: datetime | None, rng: random.Random, span: float):
    """A time after `start`: before `end` when that comes within `span` seconds."""
    if end is not None and (end - start).total_seconds() < span:
        return start + (end - start) * rng.uniform(0.1, 0.9)
    return start + timedelta(seconds=rng.uniform(0.3, span))


def _around(fill, previous, following, now, rng, thin, trades, quotes) -> None:
    instrument = fill.order.instrument
    tick = instrument.tick_size or Decimal("0.01")
    lot = instrument.lot_size or Decimal(1)
    venue, at, exec_id = fill.venue, fill.executed_at, fill.exec_id[-56:]

    def later_than_previous(seconds: float) -> datetime:
        if previous is not None and (at - previous).total_seconds() < seconds:
            return previous + (at - previous) * rng.uniform(0.1, 0.9)
        return at - timedelta(seconds=rng.uniform(0.5, seconds))

    before = fill.order.reference_price or fill.price
    trades.append(
        {
            "instrument": instrument,
            "executed_at": later_than_previous(3.0),
            "price": _on_tick(before, tick),
            "quantity": lot,
            "venue": venue,
            "trade_id": f"{exec_id}-M0",
        }
    )
    quotes.append(_quote(instrument, later_than_previous(0.5), fill.price, rng, venue))
    trades.append(
        {
            "instrument": instrument,
            "executed_at": at,
            "price": fill.price,
            "quantity": fill.quantity,
            "venue": venue,
            "trade_id": fill.exec_id[-64:],
        }
    )
    others = 3
    volume = (Decimal("0.2") if thin else Decimal(rng.randint(3, 8))) * fill.quantity
    quantity = max(lot, (volume / others / lot).quantize(Decimal(1)) * lot)
    for n in range(others):
        trades.append(
            {
                "instrument": instrument,
                "executed_at": min(now, _between(at, following, rng, 20.0)),
                "price": _on_tick(fill.price + tick * rng.randint(-1, 1), tick),
                "quantity": quantity,
                "venue": venue,
                "trade_id": f"{exec_id}-M{n + 1}",
            }
        )
