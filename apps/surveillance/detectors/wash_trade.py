"""Wash trading (MAR Annex I 1(a); Delegated Regulation 2016/522 Annex II 1(a)): one beneficial
owner on both sides, or owners on record as related parties (RelatedParty), with no change in
who owns the instrument.

Two shapes are found within the window:
- a cross: a buy and a sell that match each other, at one price and one quantity within the
  tolerances. This is the only shape that one account's own fills can take: a market maker's
  bid and ask filled a few seconds apart are two trades with the market at two prices, not a
  wash. A market-maker account's own buy and sell must meet at the very same price, and at
  about the same moment (`market_maker_cross_seconds`): its bid hit, the price moving up, and
  its ask at that price hit a while later are two trades with the market.
- netting: the owner's buys and sells across two or more of its accounts that net to (almost)
  nothing over the window at (almost) one average price, however they were split.

Fills matched once are used up: the same trade does not make a second wash.

The firm's own (proprietary) accounts all belong to the firm, but its desks decide
independently (behind information barriers; the independent decision-makers of CME Rule 534's
interpretation): by default one desk's, that is one trader's, buys and sells are one owner's, and
a slicing algorithm of one desk buying while another desk sells is not a wash
(`house_group_by`).
"""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.account_kinds import PROPRIETARY, account_kind_reader
from apps.surveillance.detectors.base import (
    DEDUP,
    Detector,
    Finding,
    Param,
    group_keys,
    grouping_param,
    groupings_of,
    is_market_maker,
    prune_keys,
)
from apps.surveillance.stream import FILL

ZERO = Decimal(0)
BP = Decimal(10000)
HUNDRED = Decimal(100)
TICK = Decimal("0.01")
MAX_SCAN = 256  # fills looked back at for a cross


class WashTradeDetector(Detector):
    name = "wash_trade"
    severity = "critical"
    params_spec = {
        "window_seconds": Param(
            Decimal,
            "60",
            Decimal("0.001"),
            "A buy and a sell (or the buys and sells that net out) within this many seconds.",
        ),
        "price_tolerance_bp": Param(
            Decimal,
            "5",
            Decimal(0),
            "Prices this close, in basis points, count as one price.",
        ),
        "price_tolerance_ticks": Param(
            Decimal,
            "1",
            Decimal(0),
            "Prices this many ticks (0.01) apart also count as one price, whatever the price "
            "level: a cent is 5 bp at 20 but 10 bp at 10.",
        ),
        "quantity_tolerance_pct": Param(
            Decimal,
            "10",
            Decimal(0),
            "Quantities this close, in percent of the larger, count as one; the buys and sells "
            "of a window net out when they differ by no more than this.",
            Decimal(100),
        ),
        "market_maker_cross_seconds": Param(
            Decimal,
            "0.1",
            Decimal(0),
            "A market-maker account's own buy and sell are a cross only when filled at one "
            "price within this many seconds of each other (a self-match fills both at once); "
            "further apart they are its quotes hit by others as the price moved.",
        ),
        "house_group_by": Param(
            str,
            "trader",
            None,
            "The firm's own (proprietary) accounts, when grouped by owner: trader (each desk an "
            "independent decision-maker: only one trader's buys and sells are one owner's) or "
            "owner (the firm as one owner; also when listed with trader).",
            choices=("trader", "owner"),
        ),
        "group_by": grouping_param("owner"),
        "dedup_seconds": DEDUP,
    }
    kinds = (FILL,)

    def setup(self) -> None:
        self.window = float(self.params["window_seconds"])
        self.price_tolerance = self.params["price_tolerance_bp"]
        self.tick_tolerance = self.params["price_tolerance_ticks"] * TICK
        self.quantity_tolerance = self.params["quantity_tolerance_pct"]
        self.maker_cross = float(self.params["market_maker_cross_seconds"])
        self.desks = "owner" not in self.params["house_group_by"].split(",")
        self.kind_of = account_kind_reader(self.context)
        self.groupings = groupings_of(self.params["group_by"])
        # (grouping, who, instrument) -> the fills of the window
        self.recent: dict[tuple[str, str, str], _Window] = {}

    def horizon(self) -> float:
        return self.window

    def sweep(self, now: float) -> None:
        prune_keys(self.recent, now - self.window, lambda w: w.newest())

    def _who(self, grouping: str, who: str, ev) -> str:
        """Owners on record as related parties are one owner here; the firm's own accounts
        are one owner per desk (the trader), unless `house_group_by` says the firm."""
        if grouping != "owner":
            return who
        related = getattr(self.context, "related_owners", None)
        if related:
            who = related.get(who, who)
        if self.desks and self.kind_of(ev.account) == PROPRIETARY:
            trader = getattr(ev, "user", "")
            if trader:
                return f"{who} / {trader}"
        return who

    def _close_prices(self, a: Decimal, b: Decimal) -> bool:
        apart = abs(a - b)
        return apart <= self.tick_tolerance or apart * BP <= self.price_tolerance * max(a, b)

    def _close_quantities(self, a: Decimal, b: Decimal) -> bool:
        return abs(a - b) * HUNDRED <= self.quantity_tolerance * max(a, b)

    def feed_fill(self, ev) -> list[Finding] | None:
        found = []
        for grouping, who in group_keys(ev, self.groupings):
            who = self._who(grouping, who, ev)
            key = (grouping, who, ev.instrument)
            window = self.recent.get(key)
            if window is None:
                window = self.recent[key] = _Window()
            else:
                window.drop_before(ev.ts - self.window)
            finding = self._cross(ev, grouping, who, window)
            if finding is None:
                window.add(
                    [
                        ev.ts,
                        ev.side,
                        ev.quantity,
                        ev.price,
                        ev.account,
                        ev.fill_id,
                        ev.order_id,
                        ev.owner,
                    ]
                )
                finding = self._netting(ev, grouping, who, window)
            if finding is not None:
                found.append(finding)
        return found or None

    def _cross(self, ev, grouping, who, window: "_Window") -> Finding | None:
        maker = is_market_maker(self.context, ev.account)
        for scanned, entry in enumerate(reversed(window.entries)):
            if scanned >= MAX_SCAN:  # a busy book: the nearest fills are where a cross is
                break
            ts, side, quantity, price, account, fill_id, order_id, owner = entry
            if side == ev.side or not self._close_quantities(quantity, ev.quantity):
                continue
            if account == ev.account and maker:
                if price != ev.price or ev.ts - ts > self.maker_cross:
                    continue
            elif not self._close_prices(price, ev.price):
                continue
            window.remove(entry)  # used up
            matched = quantity == ev.quantity and price == ev.price
            apart = abs(ev.ts - ts)
            same = "the same account" if account == ev.account else f"{account} and {ev.account}"
            what = (
                "matched trades (same price and quantity)" if matched else "a crossing buy and sell"
            )
            return self._finding(
                ev,
                grouping,
                who,
                pattern="cross",
                score=Decimal(1) if matched else Decimal("0.9"),
                title=f"Wash trade in {ev.instrument}: {what} by {same}, {apart:.3f} s apart",
                entries=[entry],
                details={
                    "matched": matched,
                    "seconds_apart": round(apart, 3),
                    "quantity": str(ev.quantity),
                    "price": str(ev.price),
                    "other_price": str(price),
                    "other_quantity": str(quantity),
                    "price_difference_bp": _bp(price, ev.price),
                },
            )
        return None

    def _netting(self, ev, grouping, who, window: "_Window") -> Finding | None:
        # A pair is a cross or nothing; one account's own two-way flow is trading with the
        # market (only a cross is a wash).
        if len(window.entries) < 3 or len(window.accounts) < 2:
            return None
        bought, sold = window.bought, window.sold
        if not bought or not sold or not self._close_quantities(bought, sold):
            return None
        buy_price, sell_price = window.bought_value / bought, window.sold_value / sold
        if not self._close_prices(buy_price, sell_price):
            return None
        entries = list(window.entries)
        accounts = len(window.accounts)
        window.clear()  # used up
        span = ev.ts - entries[0][0]
        return self._finding(
            ev,
            grouping,
            who,
            pattern="netting",
            score=Decimal("0.8"),
            title=(
                f"Wash trades in {ev.instrument}: {len(entries)} buys and sells across "
                f"{accounts} accounts net to {abs(bought - sold)} within {span:.3f} s"
            ),
            entries=entries,
            details={
                "matched": False,
                "seconds_apart": round(span, 3),
                "bought": str(bought),
                "sold": str(sold),
                "buy_average_price": str(buy_price.quantize(Decimal("0.00000001"))),
                "sell_average_price": str(sell_price.quantize(Decimal("0.00000001"))),
                "price_difference_bp": _bp(buy_price, sell_price),
                "quantity": str(ev.quantity),
                "price": str(ev.price),
            },
            include_self=False,
        )

    def _finding(
        self, ev, grouping, who, *, pattern, score, title, entries, details, include_self=True
    ) -> Finding:
        if include_self:
            entries = [*entries, [ev.ts, ev.side, ev.quantity, ev.price, ev.account, ev.fill_id,
                                  ev.order_id, ev.owner]]  # fmt: skip
        times = [entry[0] for entry in entries]
        owners = sorted({entry[7] for entry in entries})
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{grouping}:{who}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=score,
            title=title,
            seq=ev.seq,
            ts=ev.ts,
            window_start=min(times),
            window_end=max(times),
            orders=tuple(dict.fromkeys(entry[6] for entry in entries)),
            fills=tuple(entry[5] for entry in entries),
            details={
                "grouping": grouping,
                "group": who,
                "pattern": pattern,
                "owner": ev.owner,
                "owners": owners,
                "related_parties": len(owners) > 1,
                "accounts": sorted({entry[4] for entry in entries}),
                **details,
            },
        )


def _bp(a: Decimal, b: Decimal) -> str:
    top = max(a, b)
    if top <= 0:
        return "0"
    return str((abs(a - b) * BP / top).quantize(Decimal("0.01")))


class _Window:
    """One group's fills in an instrument within the window, each
    [ts, side, quantity, price, account, fill id, order id, owner], with the running totals
    netting needs (bought, sold, their values, fills per account), kept as fills come and go."""

    __slots__ = ("entries", "bought", "sold", "bought_value", "sold_value", "accounts")

    def __init__(self):
        self.entries: deque = deque()
        self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self.bought = self.sold = self.bought_value = self.sold_value = ZERO
        self.accounts: dict[str, int] = {}

    def newest(self) -> float:
        return self.entries[-1][0] if self.entries else 0.0

    def _count(self, entry: list, sign: int) -> None:
        quantity, value = entry[2] * sign, entry[2] * entry[3] * sign
        if entry[1] == "buy":
            self.bought += quantity
            self.bought_value += value
        else:
            self.sold += quantity
            self.sold_value += value
        left = self.accounts.get(entry[4], 0) + sign
        if left:
            self.accounts[entry[4]] = left
        else:
            self.accounts.pop(entry[4], None)

    def add(self, entry: list) -> None:
        self.entries.append(entry)
        self._count(entry, 1)

    def remove(self, entry: list) -> None:
        self.entries.remove(entry)
        self._count(entry, -1)

    def drop_before(self, cutoff: float) -> None:
        entries = self.entries
        while entries and entries[0][0] < cutoff:
            self._count(entries.popleft(), -1)
