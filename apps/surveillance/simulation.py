"""A trading day for surveillance, with ground truth: the benchmark's and the tests' flow.

The day is the firm's order and fill stream (the detectors' `Event`s, as the audit trail would
give them) for the hours before a NYSE close, from the people who trade on an ordinary day:

- market makers quoting a three-level ladder on both sides of their instruments, one level hit
  now and then, cancelling and re-quoting every second or two;
- slicing algorithms (TWAP and VWAP) working clients' and the firm's own parent orders in child
  orders at the touch, one direction per account and instrument;
- retail clients sending small limit orders, most filled, some cancelled, each client buying or
  selling an instrument, not both, through the day;

and, at known times, the abusive patterns surveillance must find and their look-alikes, the
innocent flows that resemble them. Each injected scenario has a `Label`: the pattern, the
detector that must alert ("" for a look-alike, which must raise nothing), the one it resembles,
the accounts, the instruments and the time window. The tests run every scenario alone through
the engine (`scenario_events`); the benchmark runs the whole day and scores each detector's
precision and recall against the labels (`score`).

Which accounts are clients', the firm's or its staff's, which are market makers, the issuers
and the watch-list additions come with the day (`SimContext`), as `StreamContext` gives them
from the database. The market's own tape (quotes and prints beside the firm's flow) is kept in
`SimMarket`.
"""

import heapq
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from apps.marketdata.context import MarketContext, Tape
from apps.surveillance.runner import StreamContext
from apps.surveillance.stream import (
    AMEND,
    CANCEL,
    EXEC,
    FILL,
    NEW,
    POSITION,
    Event,
)

# Thursday 2026-11-19: the NYSE closes at 21:00 UTC.
CLOSE = datetime(2026, 11, 19, 21, 0, tzinfo=UTC).timestamp()
INSTRUMENTS = 40
RETAIL = 2000
CENT = Decimal("0.01")
BP = Decimal(10000)
HELD = "held"  # an order held for approval: not at market until released
EVENTS_PER_SECOND = 210  # what the background below produces, about; sizes the day
MATCH_SLACK = 5.0  # seconds either side of a label's window that a finding may fall in
HAS_USER = "user" in Event.__slots__


@dataclass(frozen=True)
class Label:
    pattern: str
    detector: str  # the detector that must alert; "" for a look-alike
    mimics: str  # the detector the flow resembles (the same as `detector` when abusive)
    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    start: float
    end: float

    @property
    def abusive(self) -> bool:
        return bool(self.detector)


class SimMarket(MarketContext):
    """The market's quotes and trades per instrument, recorded as the day is generated and
    asked through the detectors' market interface (apps.marketdata.context)."""

    def __init__(self) -> None:
        self.trades: dict[str, list] = defaultdict(list)  # symbol -> [(ts, price, qty)]
        self.quotes: dict[str, list] = defaultdict(list)  # symbol -> [(ts, bid, ask)]
        self._tapes: dict[str, Tape] = {}

    def record_trade(self, symbol: str, ts: float, price: Decimal, qty: Decimal) -> None:
        self.trades[symbol].append((ts, price, qty))
        self._tapes.pop(symbol, None)

    def record_quote(self, symbol: str, ts: float, bid: Decimal, ask: Decimal) -> None:
        self.quotes[symbol].append((ts, bid, ask))
        self._tapes.pop(symbol, None)

    def tape(self, symbol: str, start: float, end: float) -> Tape | None:
        tape = self._tapes.get(symbol)
        if tape is None:
            if symbol not in self.trades and symbol not in self.quotes:
                return None
            tape = self._tapes[symbol] = Tape(
                [(ts, price, qty, "regular") for ts, price, qty in self.trades.get(symbol, ())],
                [(ts, bid, 0, ask, 0, "XXXX") for ts, bid, ask in self.quotes.get(symbol, ())],
            )
        return tape


class SimContext(StreamContext):
    """What the detectors may ask about the day: calendars, whose accounts are whose, issuers,
    list additions, the market tape, and each account's book as the day began."""

    def __init__(self, day: "Day"):
        super().__init__(dict.fromkeys(day.refs, "XNYS"), issuers=day.issuers)
        self.day = day
        # the day's own tables, so accounts opened by a scenario later are known too
        self.account_kinds = day.kinds
        self.market_makers = day.market_makers
        self.related_owners: dict[str, str] = {}
        self.market = day.market

    def list_additions(self) -> tuple:
        return (len(self.day.additions), tuple(self.day.additions))

    def book(self, account: str) -> dict[str, list]:
        # a diversified book: a retail client's worth 1M, an institution's or the firm's 1bn
        retail = account[:1] == "R" and account[1:].isdigit()
        each = Decimal(50_000) if retail else Decimal(50_000_000)
        return {f"H{i:02d}": [Decimal(100), each / 100] for i in range(20)}


class Day:
    """The day's events, generated in time order. `Day(events=N)` sizes the background so that
    about N events lead up to the close; `Day(background=False)` is an empty market for one
    scenario at a time."""

    def __init__(self, events: int = 200_000, seed: int = 7, background: bool = True):
        self.rng = random.Random(seed)
        self.close = CLOSE
        self.span = max(events / EVENTS_PER_SECOND, 2400.0)
        self.start = self.close - self.span
        self.seq = 0
        self.next_order = 1
        self.next_fill = 1
        self.next_exec = 1
        self.heap: list = []
        self.tick = 0
        self.out: list[Event] = []
        self.labels: list[Label] = []
        self.additions: list[tuple] = []
        self.market = SimMarket()
        self.orders: dict[int, list] = {}  # id -> [account, symbol, side, qty, price, filled]
        self.positions: dict[tuple, Decimal] = defaultdict(Decimal)
        self.refs = {f"S{i:02d}": Decimal(20 + 7 * i) for i in range(INSTRUMENTS)}
        self.mids = dict(self.refs)
        self.issuers = {s: f"Issuer {s}" for s in self.refs}
        self.issuers["S39"] = self.issuers["S38"]  # a share and its preferred: one issuer
        self.traded = list(self.refs)  # what the background trades
        self.listed = 0  # instruments listed for one scenario each (X00, X01, ...)
        self.kinds: dict[str, str] = {}
        self.market_makers: set[str] = set()
        self.owners: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.special = 0
        self.retail_sides: dict[tuple[str, str], str] = {}
        self.parent_sides: dict[tuple[str, str], str] = {}
        if background:
            self._background()
            self._scenarios()

    # --- accounts -------------------------------------------------------------------------

    def account(self, code: str, kind: str, owner: str | None = None, user: str = "") -> str:
        self.kinds.setdefault(code, kind)
        if kind == "market_maker":
            self.market_makers.add(code)
        self.owners.setdefault(code, owner or code)
        self.users.setdefault(code, user or f"u-{code.lower()}")
        return code

    def fresh(self, prefix: str, kind: str, owner: str | None = None) -> str:
        self.special += 1
        return self.account(f"{prefix}{self.special:03d}", kind, owner)

    # --- scheduling -----------------------------------------------------------------------

    def at(self, ts: float, action, *args) -> None:
        self.tick += 1
        heapq.heappush(self.heap, (ts, self.tick, action, args))

    def events(self):
        """Every event of the day, in time order."""
        while self.heap:
            ts, _, action, args = heapq.heappop(self.heap)
            if ts > self.close + 60:
                break
            action(ts, *args)
            if self.out:
                yield from self.out
                self.out = []

    def chunks(self, size: int = 50_000):
        chunk: list[Event] = []
        for event in self.events():
            chunk.append(event)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # --- the messages ---------------------------------------------------------------------

    def _emit(self, ts, kind, order_id, account, symbol, side="", qty=None, price=None,
              filled=None, fill_id=None, extra=None) -> Event:  # fmt: skip
        self.seq += 1
        ref = self.refs.get(symbol)
        event = Event(self.seq, ts, kind, order_id, account, self.owners.get(account, account),
                      symbol, side, qty, price, ref, filled, fill_id, extra)  # fmt: skip
        if HAS_USER:
            event.user = self.users.get(account, "")
        self.out.append(event)
        return event

    def new(self, ts, account, symbol, side, qty, price, kind=NEW) -> int:
        order_id = self.next_order
        self.next_order += 1
        qty, price = Decimal(qty), Decimal(price).quantize(CENT)
        self.orders[order_id] = [account, symbol, side, qty, price, Decimal(0)]
        self._emit(ts, kind, order_id, account, symbol, side, qty, price, Decimal(0))
        return order_id

    def release(self, ts, order_id) -> None:
        account, symbol, side, qty, price, filled = self.orders[order_id]
        self._emit(ts, NEW, order_id, account, symbol, side, qty, price, filled)

    def fill(self, ts, order_id, qty=None, price=None) -> None:
        row = self.orders.get(order_id)
        if row is None:
            return
        account, symbol, side, ordered, limit, filled = row
        qty = ordered - filled if qty is None else Decimal(qty)
        if qty <= 0:
            return
        if price is None:  # at the limit, or better where the market now is
            touch = self.px(symbol, 4 if side == "buy" else -4)
            price = min(limit, touch) if side == "buy" else max(limit, touch)
        price = Decimal(price).quantize(CENT)
        row[5] = filled + qty
        fill_id = self.next_fill
        self.next_fill += 1
        self._emit(ts, FILL, order_id, account, symbol, side, qty, price, row[5], fill_id)
        key = (account, symbol)
        self.positions[key] += qty if side == "buy" else -qty
        self._emit(ts, POSITION, None, account, symbol, qty=self.positions[key], fill_id=fill_id)
        self.market.record_trade(symbol, ts, price, qty)
        if row[5] >= ordered:
            del self.orders[order_id]

    def cancel(self, ts, order_id, kind=CANCEL) -> None:
        row = self.orders.pop(order_id, None)
        if row is not None:
            account, symbol, side, qty, price, filled = row
            self._emit(ts, kind, order_id, account, symbol, side, qty, price, filled)

    def amend(self, ts, order_id, qty=None, price=None) -> None:
        row = self.orders.get(order_id)
        if row is None:
            return
        if qty is not None:
            row[3] = Decimal(qty)
        if price is not None:
            row[4] = Decimal(price).quantize(CENT)
        account, symbol, side, qty, price, filled = row
        self._emit(ts, AMEND, order_id, account, symbol, side, qty, price, filled)

    def trade(self, ts, account, symbol, side, qty, price, after=0.05) -> int:
        """An order filled in full `after` seconds later."""
        order_id = self.new(ts, account, symbol, side, qty, price)
        self.at(ts + after, self.fill, order_id)
        return order_id

    def drop_copy(self, ts, account, symbol, side, qty, price, order_id=None) -> None:
        self.next_exec += 1
        qty, price = Decimal(qty), Decimal(price)
        self._emit(ts, EXEC, order_id, account, symbol, side, qty, price, extra={
            "execution_id": self.next_exec, "exec_id": f"V{self.next_exec}",
            "client_order_id": f"c{order_id or self.next_exec}",
            "order_status": "filled" if order_id else "", "order_quantity": qty if order_id
            else None, "reported_total": qty})  # fmt: skip

    def label(self, pattern, detector, mimics, accounts, symbols, start, end) -> Label:
        made = Label(pattern, detector, mimics, tuple(accounts), tuple(symbols), start, end)
        self.labels.append(made)
        return made

    def instrument(self) -> str:
        """A newly listed instrument of its own issuer, which only the scenario trades."""
        symbol = f"X{self.listed:02d}"
        self.listed += 1
        self.refs[symbol] = self.mids[symbol] = Decimal(40 + 9 * (self.listed % 20))
        self.issuers[symbol] = f"Issuer {symbol}"
        return symbol

    def px(self, symbol: str, bps: float = 0.0) -> Decimal:
        return (self.mids[symbol] * (1 + Decimal(bps) / BP)).quantize(CENT)

    # --- the background -------------------------------------------------------------------

    def _background(self) -> None:
        rng = self.rng
        symbols = self.traded
        for m in range(8):  # eight market makers, five instruments each
            maker = self.account(f"MM{m + 1}", "market_maker", f"Maker {m + 1}")
            for symbol in symbols[m * 5 : m * 5 + 5]:
                self.at(self.start + rng.random() * 2, self._quote, maker, symbol, [])
        self.at(self.start, self._drift)
        for i in range(RETAIL):
            self.account(f"R{i:04d}", "client")
        self.at(self.start, self._retail)
        for i in range(8):
            self.account(f"ALG{i + 1}", "client", f"Fund {i + 1}")
        for i in range(2):
            self.account(f"PROP{i + 1}", "proprietary", "The firm")
        t = self.start
        while t < self.close - 600:  # parents start through the day
            account = rng.choice([f"ALG{i + 1}" for i in range(8)] + ["PROP1", "PROP2"])
            symbol, side = rng.choice(symbols), rng.choice(("buy", "sell"))
            # a fund (or a desk) works one direction in an instrument through the day: it does
            # not run a buy and a sell algorithm in one stock at once
            self._parent(t, account, symbol, self.parent_sides.setdefault((account, symbol), side))
            t += rng.uniform(60, 240)

    def _drift(self, ts) -> None:
        """Prices wander a few basis points every 5 s; the reference (the last price the
        platform recorded) follows them."""
        for symbol, mid in self.mids.items():
            step = Decimal(self.rng.gauss(0, 3)) / BP
            self.mids[symbol] = (mid * (1 + step)).quantize(Decimal("0.0001"))
            self.refs[symbol] = self.mids[symbol].quantize(CENT)
        if ts < self.close:
            self.at(ts + 5, self._drift)

    def _quote(self, ts, maker, symbol, resting) -> None:
        """Cancel the ladder and quote it again; now and then a level is hit first."""
        rng = self.rng
        for order_id in resting:
            self.cancel(ts, order_id)
        ladder = []
        for level in range(3):
            bps = 4 + 4 * level
            qty = rng.choice((100, 200, 300))
            ladder.append(self.new(ts, maker, symbol, "buy", qty, self.px(symbol, -bps)))
            ladder.append(self.new(ts, maker, symbol, "sell", qty, self.px(symbol, bps)))
        self.market.record_quote(symbol, ts, self.px(symbol, -4), self.px(symbol, 4))
        again = ts + rng.uniform(2.0, 4.0)
        if rng.random() < 0.35:
            hit = ladder[rng.randrange(6)]
            self.at(ts + rng.uniform(0.1, again - ts - 0.05), self.fill, hit)
        if again < self.close:
            self.at(again, self._quote, maker, symbol, ladder)

    def _retail(self, ts) -> None:
        rng = self.rng
        account = f"R{rng.randrange(RETAIL):04d}"
        symbol = rng.choice(self.traded)
        # a client buying a stock today does not sell it back minutes later at the same price:
        # each client keeps one direction in an instrument through the day
        side = self.retail_sides.setdefault((account, symbol), rng.choice(("buy", "sell")))
        qty = rng.randint(5, 250)
        price = self.px(symbol, rng.uniform(-6, 6))
        order_id = self.new(ts, account, symbol, side, qty, price)
        if rng.random() < 0.65:
            self.at(ts + rng.uniform(0.3, 40), self.fill, order_id)
        else:
            self.at(ts + rng.uniform(3, 120), self.cancel, order_id)
        nxt = ts + rng.expovariate(16)
        if nxt < self.close:
            self.at(nxt, self._retail)

    def _parent(self, ts, account, symbol, side) -> None:
        """A TWAP (even slices) or VWAP (heavier towards the close) parent in child orders at
        the touch, each worth at most about 25,000: an algorithm works a parent at a modest
        participation (a tenth of the volume or so), not a fifth of the market's trading."""
        rng = self.rng
        minutes = rng.uniform(20, 90)
        slices = int(minutes * 60 / rng.uniform(20, 40))
        vwap = rng.random() < 0.5
        end = min(ts + minutes * 60, self.close - 30)
        for n in range(slices):
            at = ts + (end - ts) * ((n / slices) ** (0.7 if vwap else 1))
            self.at(at, self._child, account, symbol, side)

    def _child(self, ts, account, symbol, side) -> None:
        rng = self.rng
        value = Decimal(rng.uniform(5_000, 25_000))
        qty = max(1, int(value / self.mids[symbol]))
        price = self.px(symbol, 4 if side == "buy" else -4)
        order_id = self.new(ts, account, symbol, side, qty, price)
        if rng.random() < 0.85:
            self.at(ts + rng.uniform(0.3, 6), self.fill, order_id)
        else:
            self.at(ts + rng.uniform(0.3, 3), self.fill, order_id, max(1, qty // 2))
            self.at(ts + rng.uniform(8, 20), self.cancel, order_id)

    # --- the scenarios --------------------------------------------------------------------

    def _scenarios(self) -> None:
        names = sorted(SCENARIOS)
        rng = self.rng
        rounds = 3
        early = [n for n in names if n not in CLOSING]
        slots = len(early) * rounds
        for r in range(rounds):
            order = early[:]
            rng.shuffle(order)
            for i, name in enumerate(order):
                fraction = 0.05 + 0.8 * (r * len(early) + i) / slots
                at = min(self.start + fraction * self.span, self.close - 660 - LENGTHS[name])
                self.at(max(at, self.start + 60), SCENARIOS[name], self)
        closing = sorted(CLOSING)
        for i, name in enumerate(closing):  # the closing ones, each in its own last minutes
            self.at(self.close - 540 + i * 520 / len(closing), SCENARIOS[name], self)


# --- scenarios: each schedules its flow from t and labels it ----------------------------------

SCENARIOS: dict = {}
CLOSING: set[str] = set()


LENGTHS: dict[str, float] = {}


def scenario(detector: str, mimics: str = "", closing: bool = False, length: float = 130):
    """Register a scenario. `detector` and `mimics` say what it is (its labels repeat them);
    `length` is how many seconds its flow lasts."""

    def register(fn):
        SCENARIOS[fn.__name__] = lambda ts, day: fn(day, ts)
        LENGTHS[fn.__name__] = length
        if closing:
            CLOSING.add(fn.__name__)
        return fn

    return register


def _symbol(day: Day, avoid=()) -> str:
    choices = [s for s in day.traded if s not in avoid]
    return day.rng.choice(choices)


@scenario("wash_trade")
def wash_same_account(day: Day, t: float) -> None:
    a, s = day.fresh("W", "client"), _symbol(day)
    day.trade(t, a, s, "buy", 400, day.px(s))
    day.at(t + 2, lambda ts: day.trade(ts, a, s, "sell", 400, day.px(s)))
    day.label("wash trade, one account, 2 s", "wash_trade", "wash_trade", [a], [s], t, t + 2.1)


@scenario("wash_trade")
def wash_two_accounts_a_cent_apart(day: Day, t: float) -> None:
    """One owner's two accounts, a cent apart, 25 s later (the miss)."""
    owner = f"Owner W{day.special}"
    a, b, s = day.fresh("W", "client", owner), day.fresh("W", "client", owner), _symbol(day)
    price = day.px(s)

    def leg(ts, account, side, at_price):  # filled at the price the owner chose, not better
        order_id = day.new(ts, account, s, side, 700, at_price)
        day.at(ts + 0.05, day.fill, order_id, None, at_price)

    leg(t, a, "buy", price)
    day.at(t + 25, leg, b, "sell", price + CENT)
    day.label("wash trade, one owner, a cent and 25 s apart", "wash_trade", "wash_trade",
              [a, b], [s], t, t + 25.1)  # fmt: skip


@scenario("", "wash_trade")
def market_maker_ladder_hit_both_sides(day: Day, t: float) -> None:
    """A market maker's own bid and ask, each hit by others 2.8 s apart: not a wash trade."""
    m, s = day.account("MM9", "market_maker", "Maker 9"), _symbol(day)
    bids = [day.new(t, m, s, "buy", 200, day.px(s, -4 - 4 * i)) for i in range(3)]
    asks = [day.new(t, m, s, "sell", 200, day.px(s, 4 + 4 * i)) for i in range(3)]
    day.at(t + 0.4, day.fill, bids[0])
    day.at(t + 3.2, day.fill, asks[0])
    for order_id in bids[1:] + asks[1:]:
        day.at(t + 3.6, day.cancel, order_id)
    day.label("market maker's ladder, both sides hit", "", "wash_trade", [m], [s], t, t + 4)
    day.label("market maker's ladder, requoted", "", "layering", [m], [s], t, t + 4)


@scenario("spoofing")
def spoof_with_benefit(day: Day, t: float) -> None:
    a, s = day.fresh("SP", "client"), _symbol(day)
    for i in range(6):  # an ordinary history of small orders
        day.at(t + i * 0.5, day.new, a, s, "buy", 10, day.px(s, -50))
    big = [None]

    def place(ts):
        big[0] = day.new(ts, a, s, "buy", 3000, day.px(s, -3))

    day.at(t + 3.5, place)
    day.at(t + 3.6, lambda ts: day.trade(ts, a, s, "sell", 100, day.px(s, 2)))
    day.at(t + 4.5, lambda ts: day.cancel(ts, big[0]))
    day.label("spoofing with a sale on the other side", "spoofing", "spoofing", [a], [s],
              t + 3.5, t + 4.6)  # fmt: skip


@scenario("", "spoofing")
def held_then_withdrawn(day: Day, t: float) -> None:
    """A large order held for approval and withdrawn before release: it never reached the
    market, so it spoofed nobody."""
    a, s = day.fresh("HW", "client"), _symbol(day)
    for i in range(6):
        day.at(t + i * 0.5, day.new, a, s, "buy", 10, day.px(s, -50))
    held = [None]

    def hold(ts):
        held[0] = day.new(ts, a, s, "buy", 3000, day.px(s, -3), kind=HELD)

    day.at(t + 3.5, hold)
    day.at(t + 3.6, lambda ts: day.trade(ts, a, s, "sell", 100, day.px(s, 2)))
    day.at(t + 4.5, lambda ts: day.cancel(ts, held[0]))
    day.label("held order withdrawn before release", "", "spoofing", [a], [s], t, t + 5)


def _layers(day, t, accounts, s, after_fill):
    """Four buy orders stacked ten basis points apart, a sale, then every layer pulled."""
    orders = []

    def layer(ts, account, k):
        orders.append(day.new(ts, account, s, "buy", 300, day.px(s, -10 - 10 * k)))

    for k in range(4):
        day.at(t + 0.2 * k, layer, accounts[k % len(accounts)], k)
    day.at(t + 1.0, lambda ts: day.trade(ts, accounts[0], s, "sell", 50, day.px(s, 2)))
    day.at(t + 1.05 + after_fill, lambda ts: [day.cancel(ts, o) for o in list(orders)])


@scenario("layering")
def layering_one_account(day: Day, t: float) -> None:
    a, s = day.fresh("L", "client"), _symbol(day)
    _layers(day, t, [a], s, 1.0)
    day.label("layering, four layers", "layering", "layering", [a], [s], t, t + 2.1)


@scenario("layering")
def layering_across_one_owners_accounts(day: Day, t: float) -> None:
    owner = f"Owner L{day.special}"
    a, b, s = day.fresh("L", "client", owner), day.fresh("L", "client", owner), _symbol(day)
    _layers(day, t, [a, b], s, 1.0)
    day.label("layering across two accounts of one owner", "layering", "layering", [a, b], [s],
              t, t + 2.1)  # fmt: skip


@scenario("layering")
def layering_pulled_12s_later(day: Day, t: float) -> None:
    a, s = day.fresh("L", "client"), _symbol(day)
    _layers(day, t, [a], s, 12.0)
    day.label("layering, layers pulled 12 s after", "layering", "layering", [a], [s], t, t + 13.1)


@scenario("rapid_fire")
def rapid_fire_burst(day: Day, t: float) -> None:
    a, s = day.fresh("RF", "client"), _symbol(day)
    for i in range(100):
        day.at(t + i * 0.3, day.new, a, s, "buy", 1, day.px(s, -30))
    day.label("100 orders in 30 s", "rapid_fire", "rapid_fire", [a], [s], t, t + 30)


@scenario("excessive_messaging")
def amendments_storm(day: Day, t: float) -> None:
    """130 amendments to one order in 1.5 s (the miss)."""
    a, s = day.fresh("QS", "client"), _symbol(day)
    holder = [None]

    def place(ts):
        holder[0] = day.new(ts, a, s, "buy", 100, day.px(s, -20))

    day.at(t, place)
    for i in range(130):
        day.at(t + 0.01 + i * 1.5 / 130, lambda ts, k=i: day.amend(
            ts, holder[0], price=day.px(s, -20 - (k % 5))))  # fmt: skip
    day.label("130 amendments to one order in 1.5 s", "excessive_messaging",
              "excessive_messaging", [a], [s], t, t + 1.6)  # fmt: skip


@scenario("", "excessive_messaging")
def algo_amending_patiently(day: Day, t: float) -> None:
    """An algorithm repricing its order 40 times over a minute: busy, not stuffing."""
    a, s = day.fresh("AP", "client"), _symbol(day)
    holder = [None]
    day.at(t, lambda ts: holder.__setitem__(0, day.new(ts, a, s, "buy", 100, day.px(s, -8))))
    for i in range(40):
        day.at(t + 1.5 * (i + 1), lambda ts: day.amend(ts, holder[0], price=day.px(s, -8)))
    day.label("an algo repricing over a minute", "", "excessive_messaging", [a], [s], t, t + 61)


@scenario("matched_orders")
def prearranged_trade(day: Day, t: float) -> None:
    """Two unrelated clients, same size and price, 1.7 s apart (the miss)."""
    a, b, s = day.fresh("PA", "client"), day.fresh("PB", "client"), _symbol(day)
    price = day.px(s, 1)
    qty = int(300_000 / price)
    buy = day.new(t, a, s, "buy", qty, price)

    def cross(ts):
        sell = day.new(ts, b, s, "sell", qty, price)
        day.fill(ts, buy)
        day.fill(ts, sell)

    day.at(t + 1.7, cross)
    day.label("pre-arranged trade between unrelated clients", "matched_orders",
              "matched_orders", [a, b], [s], t, t + 1.8)  # fmt: skip


@scenario("matched_orders", length=1810)
def prearranged_pair_again(day: Day, t: float) -> None:
    """The same two owners cross three times in an hour."""
    a, b, s = day.fresh("PA", "client"), day.fresh("PB", "client"), _symbol(day)
    prices = {}
    qty = int(250_000 / day.mids[s])

    def buy(ts, k):
        prices[k] = day.px(s)
        day.trade(ts, a, s, "buy", qty, prices[k], after=1.0)

    for k in range(3):
        day.at(t + k * 900, buy, k)
        day.at(t + k * 900 + 0.6, lambda ts, k=k: day.trade(
            ts, b, s, "sell", qty, prices[k], after=0.4))  # fmt: skip
    day.label("a pair crossing again and again", "matched_orders", "matched_orders", [a, b],
              [s], t, t + 1802)  # fmt: skip


@scenario("", "matched_orders")
def resting_order_hit_later(day: Day, t: float) -> None:
    """A client's resting order hit two minutes later by another client: same size and price,
    but nobody arranged it (the orders came minutes apart)."""
    a, b, s = day.fresh("RA", "client"), day.fresh("RB", "client"), _symbol(day)
    price = day.px(s, -2)
    qty = int(250_000 / price)
    rest = day.new(t, a, s, "buy", qty, price)

    def hit(ts):
        sell = day.new(ts, b, s, "sell", qty, price)
        day.fill(ts, rest)
        day.fill(ts, sell)

    day.at(t + 120, hit)
    day.label("resting order hit later", "", "matched_orders", [a, b], [s], t, t + 121)


@scenario("", "matched_orders")
def unrelated_fills_different_sizes(day: Day, t: float) -> None:
    a, b, s = day.fresh("UA", "client"), day.fresh("UB", "client"), _symbol(day)
    price = day.px(s)
    day.trade(t, a, s, "buy", int(250_000 / price), price)
    day.at(t + 1.5, lambda ts: day.trade(ts, b, s, "sell", int(170_000 / price), price))
    day.label("two clients' unrelated fills", "", "matched_orders", [a, b], [s], t, t + 2)


@scenario("insider_dealing", length=1270)
def trading_ahead_of_watch_list(day: Day, t: float) -> None:
    """A client builds a position over a quarter of an hour; minutes later the issuer goes on
    the watch list."""
    a, s = day.fresh("IN", "client"), day.instrument()
    for k in range(4):
        day.at(t + k * 300, lambda ts: day.trade(ts, a, s, "buy", 1500, day.px(s, 3)))
    added = t + 1200
    day.additions.append((added, "watch_list", len(day.additions) + 1, "", day.issuers[s],
                          "Mandate: bid for the issuer"))  # fmt: skip
    other = day.fresh("IO", "client")  # the market goes on after the addition
    day.at(added + 60, lambda ts: day.trade(ts, other, _symbol(day, (s,)), "buy", 10, 50))
    day.label("trading ahead of a watch-list addition", "insider_dealing", "insider_dealing",
              [a], [s], t, added + 120)  # fmt: skip


@scenario("", "insider_dealing", length=730)
def trading_after_restricted_list(day: Day, t: float) -> None:
    """A large buy after the issuer went on the restricted list (the gate's to refuse), a
    round trip before it, and a market maker's quoting: nothing traded ahead of it."""
    a, b, s = day.fresh("IA", "client"), day.fresh("IB", "client"), day.instrument()
    added = t + 600
    day.additions.append((added, "restricted_list", len(day.additions) + 1, s, "",
                          "Research: initiation"))  # fmt: skip
    day.at(t, lambda ts: day.trade(ts, b, s, "buy", 1500, day.px(s)))
    day.at(t + 300, lambda ts: day.trade(ts, b, s, "sell", 1500, day.px(s)))
    day.at(added + 60, lambda ts: day.trade(ts, a, s, "buy", 3000, day.px(s)))
    day.label("trading after the addition, or round trips", "", "insider_dealing", [a, b], [s],
              t, added + 120)  # fmt: skip


@scenario("front_running")
def prop_ahead_of_client(day: Day, t: float) -> None:
    """A client's large buy order waits; the firm's desk buys 40 s later and fills first."""
    c, p, s = day.fresh("FC", "client"), day.fresh("FP", "proprietary", "The firm"), _symbol(day)
    big = day.new(t, c, s, "buy", int(400_000 / day.mids[s]), day.px(s, -5))
    day.at(t + 40, lambda ts: day.trade(ts, p, s, "buy", 300, day.px(s, 3), after=0.5))
    day.at(t + 90, lambda ts: day.fill(ts, big))
    day.label("proprietary order ahead of a client order", "front_running", "front_running",
              [p], [s], t, t + 41)  # fmt: skip


@scenario("front_running")
def staff_ahead_of_client(day: Day, t: float) -> None:
    c, e, s = day.fresh("FC", "client"), day.fresh("FS", "staff"), _symbol(day)
    big = day.new(t, c, s, "sell", int(300_000 / day.mids[s]), day.px(s, 5))
    day.at(t + 15, lambda ts: day.trade(ts, e, s, "sell", 200, day.px(s, -3), after=0.5))
    day.at(t + 60, lambda ts: day.fill(ts, big))
    day.label("staff order ahead of a client order", "front_running", "front_running", [e],
              [s], t, t + 16)  # fmt: skip


@scenario("", "front_running", length=210)
def house_strategy_already_running(day: Day, t: float) -> None:
    """The firm's TWAP was buying before the client's order came; it goes on (and a desk sells
    the other way to facilitate the client): neither ran ahead of it."""
    c, p, s = day.fresh("HC", "client"), day.fresh("HP", "proprietary", "The firm"), _symbol(day)
    q = day.fresh("HQ", "proprietary", "The firm")
    for k in range(6):
        day.at(t + k * 30, lambda ts: day.trade(ts, p, s, "buy", 150, day.px(s, 3), after=0.5))
    big = [None]
    day.at(t + 50, lambda ts: big.__setitem__(0, day.new(
        ts, c, s, "buy", int(400_000 / day.mids[s]), day.px(s, -5))))  # fmt: skip
    day.at(t + 70, lambda ts: day.trade(ts, q, s, "sell", 500, day.px(s, -3), after=0.5))
    day.at(t + 200, lambda ts: day.fill(ts, big[0]))
    day.label("house strategy already running; facilitation", "", "front_running", [p, q],
              [s], t, t + 200)  # fmt: skip
    # two desks of the firm, one buying and one selling within a minute: independent
    # decision-makers, not the firm trading with itself
    day.label("two desks of the firm trading two ways", "", "wash_trade", [p, q], [s], t,
              t + 200)  # fmt: skip


@scenario("concentration")
def concentrated_position(day: Day, t: float) -> None:
    a, s = day.fresh("R9", "client"), _symbol(day)  # a retail client's book
    day.trade(t, a, s, "buy", int(2_000_000 / day.mids[s]), day.px(s))
    day.label("one position over the portfolio limit", "concentration", "concentration", [a],
              [s], t, t + 1)  # fmt: skip


@scenario("gate_reconciliation")
def ghost_execution(day: Day, t: float) -> None:
    a, s = day.fresh("G", "client"), _symbol(day)
    day.drop_copy(t, a, s, "buy", 7, day.px(s))
    day.label("a venue execution the gate never saw", "gate_reconciliation",
              "gate_reconciliation", [a], [s], t, t + 1)  # fmt: skip


@scenario("marking_close", closing=True)
def marking_the_close(day: Day, t: float) -> None:
    """A buy 80 bp over the reference, most of the closing window's volume so far: the price
    is set where the buy printed."""
    a, s = day.fresh("MC", "client"), _symbol(day)
    price = day.px(s, 80)
    day.trade(t, a, s, "buy", 5000, price)
    day.mids[s] = Decimal(price)
    day.refs[s] = price
    day.label("a large buy 80 bp over the reference before the close", "marking_close",
              "marking_close", [a], [s], t, t + 1)  # fmt: skip


@scenario("ramping", closing=True)
def ramp_into_the_close(day: Day, t: float) -> None:
    """Six buys, each 30 bp over a reference that follows the price up (the miss)."""
    a, s = day.fresh("RP", "client"), _symbol(day)

    def buy(ts):
        price = day.px(s, 30)
        day.trade(ts, a, s, "buy", 400, price)
        day.mids[s] = Decimal(price)
        day.refs[s] = price

    for k in range(6):
        day.at(t + 20 * k, buy)
    day.label("a ramp into the close, +181 bp", "ramping", "ramping", [a], [s], t, t + 101)


@scenario("", "marking_close", closing=True)
def vwap_into_the_close(day: Day, t: float) -> None:
    """A VWAP finishing into the close at the touch: volume, not price pressure."""
    a, s = day.fresh("VW", "client", "Fund V"), _symbol(day)
    for k in range(8):
        day.at(t + 15 * k, lambda ts: day.trade(ts, a, s, "buy", 300, day.px(s, 4), after=0.5))
    day.label("a VWAP into the close", "", "marking_close", [a], [s], t, t + 106)
    day.label("a VWAP into the close", "", "ramping", [a], [s], t, t + 106)


# --- running scenarios and scoring --------------------------------------------------------


def scenario_events(name: str) -> tuple[list[Event], list[Label], SimContext]:
    """One scenario alone, on an empty market, an hour before the close."""
    day = Day(background=False)
    day.at(CLOSE - 3600 if name not in CLOSING else CLOSE - 300, SCENARIOS[name], day)
    return list(day.events()), day.labels, SimContext(day)


def matches(finding, label: Label) -> bool:
    """A finding is of a label: the label's detector (or the one it mimics), one of its
    accounts (or its owner's, for owner-grouped findings), its instrument (or none named),
    and inside its window (give or take MATCH_SLACK seconds)."""
    accounts = set(label.accounts)
    named = {finding.account}
    details = finding.details or {}
    for key in ("accounts", "client_accounts"):
        named.update(details.get(key) or ())
    if not named & accounts:
        return False
    if finding.instrument and finding.instrument not in label.instruments:
        return False
    return (
        finding.window_end >= label.start - MATCH_SLACK
        and finding.window_start <= label.end + MATCH_SLACK
    ) or label.start - MATCH_SLACK <= finding.ts <= label.end + MATCH_SLACK


@dataclass
class DetectorScore:
    alerts: int = 0
    true_alerts: int = 0
    labels: int = 0
    found: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None


def score(findings: list, labels: list[Label]) -> dict[str, DetectorScore]:
    """Per detector: alerts (findings grouped by their key, as the alert queue groups them)
    that match an abusive label of the detector, and labels matched by at least one."""
    scores: dict[str, DetectorScore] = defaultdict(DetectorScore)
    by_detector: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        if label.abusive:
            by_detector[label.detector].append(label)
            scores[label.detector].labels += 1
    alerts: dict[tuple, list] = defaultdict(list)
    for finding in findings:
        alerts[(finding.detector, finding.key)].append(finding)
    found: set = set()
    for (detector, _), group in alerts.items():
        result = scores[detector]
        result.alerts += 1
        hit = [
            i
            for i, label in enumerate(by_detector[detector])
            if any(matches(f, label) for f in group)
        ]
        if hit:
            result.true_alerts += 1
            found.update((detector, i) for i in hit)
    for detector, result in scores.items():
        result.found = sum(1 for d, _ in found if d == detector)
    return dict(scores)
