"""The market as the detectors see it: price moves, traded volume, share of volume, the touch
and the closing price, asked by instrument symbol and stream time (float epoch seconds, as
`Event.ts`).

Two implementations of one interface: `InMemoryMarket`, fed with tuples (unit tests and the
surveillance benchmark), and `DatabaseMarket`, which the surveillance run uses. The database one
loads an instrument's tape a few whole days at a time (two queries) and answers from memory, so
a detector's questions cost no query per event.

    price_move_bp(symbol, start_ts, end_ts) -> Decimal | None
        from the last print at or before start to the last at or before end, in basis points
    volume(symbol, start_ts, end_ts) -> Decimal          traded quantity, start <= t <= end
    share_of_volume(symbol, start_ts, end_ts, quantity) -> Decimal | None
        quantity over that volume (None without volume); above 1 when the tape misses prints
    touch(symbol, ts) -> (best bid, best ask) | None     across venues, each venue's last quote
    distance_from_touch_bp(symbol, ts, side, price) -> Decimal | None
        how far behind its own side of the touch a price is: a buy below the best bid or a sell
        above the best ask is positive; a price through the touch (a buy at the ask) negative
    closing_price(symbol, day_label) -> Decimal | None
        the closing-auction print of that UTC day, else its last print
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

BP = Decimal(10000)
BP_PLACES = Decimal("0.01")
SHARE_PLACES = Decimal("0.0001")
CLOSING_AUCTION = "closing_auction"
DAY = 86400.0


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


class Tape:
    """One instrument's prints and quotes over a span, sorted by time."""

    def __init__(self, trades, quotes):
        trades = sorted(trades, key=lambda t: t[0])
        self.trade_ts = [t[0] for t in trades]
        self.prices = [t[1] for t in trades]
        self.conditions = [t[3] for t in trades]
        self.cumulative = [Decimal(0)]
        for t in trades:
            self.cumulative.append(self.cumulative[-1] + t[2])
        by_venue = defaultdict(list)
        for ts, bid, _bid_size, ask, _ask_size, venue in sorted(quotes, key=lambda q: q[0]):
            by_venue[venue].append((ts, bid, ask))
        self.quotes = {
            venue: ([q[0] for q in rows], [(q[1], q[2]) for q in rows])
            for venue, rows in by_venue.items()
        }

    def last_price(self, ts: float) -> Decimal | None:
        i = bisect_right(self.trade_ts, ts) - 1
        return self.prices[i] if i >= 0 else None

    def volume(self, start: float, end: float) -> Decimal:
        i = bisect_left(self.trade_ts, start)
        j = bisect_right(self.trade_ts, end)
        return self.cumulative[j] - self.cumulative[i] if j > i else Decimal(0)

    def touch(self, ts: float) -> tuple[Decimal, Decimal] | None:
        bids, asks = [], []
        for times, values in self.quotes.values():
            k = bisect_right(times, ts) - 1
            if k >= 0:
                bids.append(values[k][0])
                asks.append(values[k][1])
        if not bids:
            return None
        return max(bids), min(asks)

    def closing_price(self, day_label: str) -> Decimal | None:
        start = datetime.fromisoformat(day_label).replace(tzinfo=UTC).timestamp()
        i = bisect_left(self.trade_ts, start)
        j = bisect_left(self.trade_ts, start + DAY)
        last = None
        for k in range(j - 1, i - 1, -1):
            if self.conditions[k] == CLOSING_AUCTION:
                return self.prices[k]
            if last is None:
                last = self.prices[k]
        return last


class MarketContext:
    """The interface; a subclass says where an instrument's tape for a span comes from."""

    def tape(self, symbol: str, start: float, end: float) -> Tape | None:
        raise NotImplementedError

    def price_move_bp(self, symbol: str, start_ts: float, end_ts: float) -> Decimal | None:
        tape = self.tape(symbol, start_ts, end_ts)
        if tape is None:
            return None
        before, after = tape.last_price(start_ts), tape.last_price(end_ts)
        if before is None or after is None:
            return None
        return ((after - before) / before * BP).quantize(BP_PLACES)

    def volume(self, symbol: str, start_ts: float, end_ts: float) -> Decimal:
        tape = self.tape(symbol, start_ts, end_ts)
        return tape.volume(start_ts, end_ts) if tape is not None else Decimal(0)

    def share_of_volume(
        self, symbol: str, start_ts: float, end_ts: float, quantity: Decimal
    ) -> Decimal | None:
        volume = self.volume(symbol, start_ts, end_ts)
        if not volume:
            return None
        return (Decimal(quantity) / volume).quantize(SHARE_PLACES)

    def touch(self, symbol: str, ts: float) -> tuple[Decimal, Decimal] | None:
        tape = self.tape(symbol, ts, ts)
        return tape.touch(ts) if tape is not None else None

    def distance_from_touch_bp(
        self, symbol: str, ts: float, side: str, price: Decimal
    ) -> Decimal | None:
        touch = self.touch(symbol, ts)
        if touch is None:
            return None
        bid, ask = touch
        if side == "buy":
            return ((bid - price) / bid * BP).quantize(BP_PLACES)
        return ((price - ask) / ask * BP).quantize(BP_PLACES)

    def closing_price(self, symbol: str, day_label: str) -> Decimal | None:
        start = datetime.fromisoformat(day_label).replace(tzinfo=UTC).timestamp()
        tape = self.tape(symbol, start, start + DAY - 0.000001)
        return tape.closing_price(day_label) if tape is not None else None


class InMemoryMarket(MarketContext):
    """A market fed with tuples:
    trades (symbol, ts, price, quantity[, condition]) and
    quotes (symbol, ts, bid, bid_size, ask, ask_size[, venue])."""

    def __init__(self, trades=(), quotes=()):
        by_symbol_trades = defaultdict(list)
        for symbol, ts, price, quantity, *rest in trades:
            condition = rest[0] if rest else "regular"
            by_symbol_trades[symbol].append((ts, Decimal(price), Decimal(quantity), condition))
        by_symbol_quotes = defaultdict(list)
        for symbol, ts, bid, bid_size, ask, ask_size, *rest in quotes:
            venue = rest[0] if rest else "XXXX"
            by_symbol_quotes[symbol].append(
                (ts, Decimal(bid), Decimal(bid_size), Decimal(ask), Decimal(ask_size), venue)
            )
        self.tapes = {
            symbol: Tape(by_symbol_trades.get(symbol, ()), by_symbol_quotes.get(symbol, ()))
            for symbol in set(by_symbol_trades) | set(by_symbol_quotes)
        }

    def tape(self, symbol: str, start: float, end: float) -> Tape | None:
        return self.tapes.get(symbol)


class DatabaseMarket(MarketContext):
    """The recorded tape, loaded per instrument in whole UTC days: the day before the first
    asked time (for the last print or quote before it) to the day after the last. Asked about
    a time outside what it holds, it loads that span instead (two queries), so a run that moves
    through the day reloads about once a day per instrument."""

    def __init__(self):
        self.spans: dict[str, tuple[float, float, Tape]] = {}
        self.instrument_ids: dict[str, int] | None = None

    def _instrument_id(self, symbol: str) -> int | None:
        if self.instrument_ids is None:
            from apps.trading.models import Instrument

            self.instrument_ids = dict(Instrument.objects.values_list("symbol", "id"))
        return self.instrument_ids.get(symbol)

    def tape(self, symbol: str, start: float, end: float) -> Tape | None:
        held = self.spans.get(symbol)
        if held is not None and held[0] <= start and end < held[1]:
            return held[2]
        instrument_id = self._instrument_id(symbol)
        if instrument_id is None:
            return None
        first = date.fromisoformat(_day(start)) - timedelta(days=1)
        last = date.fromisoformat(_day(end)) + timedelta(days=2)
        lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
        hi = datetime(last.year, last.month, last.day, tzinfo=UTC)
        tape = _load(instrument_id, lo, hi)
        self.spans[symbol] = (lo.timestamp(), hi.timestamp(), tape)
        return tape


def _load(instrument_id: int, lo: datetime, hi: datetime) -> Tape:
    from apps.marketdata.models import MarketQuote, MarketTrade

    trades = [
        (at.timestamp(), price, quantity, condition)
        for at, price, quantity, condition in MarketTrade.objects.filter(
            instrument_id=instrument_id, executed_at__gte=lo, executed_at__lt=hi
        ).values_list("executed_at", "price", "quantity", "condition")
    ]
    quotes = [
        (at.timestamp(), bid, bid_size, ask, ask_size, venue)
        for at, bid, bid_size, ask, ask_size, venue in MarketQuote.objects.filter(
            instrument_id=instrument_id, quoted_at__gte=lo, quoted_at__lt=hi
        ).values_list("quoted_at", "bid", "bid_size", "ask", "ask_size", "venue")
    ]
    return Tape(trades, quotes)


def market_from_database() -> DatabaseMarket | None:
    """The run's market, or None when no market data was ever recorded."""
    from apps.marketdata.selectors import market_data_exists

    return DatabaseMarket() if market_data_exists() else None
