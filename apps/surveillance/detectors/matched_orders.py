"""Improper matched orders (MAR art. 12(1)(a); Delegated Regulation 2016/522 Annex II
section 1, "improper matched orders"): a buy and a sell between owners who are not related, entered
within seconds of each other for the same size at the same price and filled against each other:
a pre-arranged trade. The two sides' orders and fills must both fall within the tolerances
(time, price in basis points, size in percent); a pair of owners matched again within the
repeat window scores higher. Small trades are left out (chance meets them all day). Market
makers, who trade with everyone, are left out; one owner on both sides is a wash trade, not
this."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.account_kinds import MARKET_MAKER, account_kind_reader
from apps.surveillance.detectors.base import (
    DEDUP,
    Detector,
    Finding,
    Param,
    pop_older,
    prune_keys,
    score_of,
)
from apps.surveillance.stream import CANCEL, EXPIRE, FILL, NEW

BP = Decimal(10000)
HUNDRED = Decimal(100)


class MatchedOrdersDetector(Detector):
    name = "matched_orders"
    severity = "critical"
    params_spec = {
        "window_seconds": Param(
            Decimal,
            "5",
            Decimal("0.001"),
            "Both orders entered, and both filled, within this many seconds of each other.",
            Decimal(600),
        ),
        "price_tolerance_bps": Param(
            Decimal, "5", Decimal(0), "The two fills' prices within this many basis points."
        ),
        "size_tolerance_pct": Param(
            Decimal,
            "0",
            Decimal(0),
            "The two orders' sizes within this many percent.",
            Decimal(50),
        ),
        "min_value": Param(
            Decimal,
            "50000",
            Decimal(0),
            "Trades worth less than this (firm currency) are left out: two small orders of the "
            "same size at the same price meet by chance all day.",
        ),
        "repeat_window_seconds": Param(
            int, 86400, 1, "A pair of owners matched again within this many seconds scores higher."
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, FILL, CANCEL, EXPIRE)

    def setup(self) -> None:
        self.window = float(self.params["window_seconds"])
        self.price_tolerance = self.params["price_tolerance_bps"]
        self.size_tolerance = self.params["size_tolerance_pct"]
        self.repeat_window = float(self.params["repeat_window_seconds"])
        self.min_value = self.params["min_value"]
        value_factor = getattr(self.context, "value_factor", None)
        self.value_factor = value_factor if callable(value_factor) else (lambda s: Decimal(1))
        self.entered: dict[int, tuple] = {}  # order id -> (ts, quantity), recent orders only
        self.entered_queue: deque = deque()  # (ts, order id)
        # instrument -> deque of (ts, side, quantity, price, account, owner, order id, fill id,
        # entered ts, order quantity)
        self.fills: dict[str, deque] = {}
        self.pairs: dict[tuple, deque] = {}  # (owner, owner) sorted -> deque of match times
        # owners on record as related parties count as one (their trades are wash trades)
        self.related = getattr(self.context, "related_owners", None) or {}
        self.kind_of = account_kind_reader(self.context)

    def horizon(self) -> float:
        return self.window

    def sweep(self, now: float) -> None:
        cutoff = now - self.window
        while self.entered_queue and self.entered_queue[0][0] < cutoff:
            _, order_id = self.entered_queue.popleft()
            self.entered.pop(order_id, None)
        prune_keys(self.fills, cutoff, lambda q: q[-1][0] if q else 0.0)
        prune_keys(self.pairs, now - self.repeat_window, lambda q: q[-1] if q else 0.0)

    def feed_new(self, ev) -> None:
        if ev.order_id is None or self.kind_of(ev.account) == MARKET_MAKER:
            return None
        self.entered[ev.order_id] = (ev.ts, ev.quantity)
        self.entered_queue.append((ev.ts, ev.order_id))
        return None

    def feed_cancel(self, ev) -> None:
        self.entered.pop(ev.order_id, None)
        return None

    feed_expire = feed_cancel

    def _sizes_match(self, a: Decimal, b: Decimal) -> bool:
        if a == b:
            return True
        larger = max(a, b)
        return bool(larger) and abs(a - b) / larger * HUNDRED <= self.size_tolerance

    def feed_fill(self, ev) -> Finding | None:
        placed = self.entered.get(ev.order_id)
        if placed is None:  # a resting order filled long after it was entered, or a market maker
            return None
        entered_at, order_qty = placed
        if ev.ts - entered_at > self.window:
            return None
        if ev.quantity * ev.price * self.value_factor(ev.instrument) < self.min_value:
            return None
        queue = self.fills.get(ev.instrument)
        if queue is None:
            queue = self.fills[ev.instrument] = deque()
        else:
            pop_older(queue, ev.ts - self.window)
        found = None
        for other in reversed(queue):
            ts, side, qty, price, account, owner, order_id, fill_id, other_entered, other_qty = (
                other
            )
            if side == ev.side or owner == ev.owner:
                continue
            if self.related and self.related.get(owner, owner) == self.related.get(
                ev.owner, ev.owner
            ):
                continue
            if abs(entered_at - other_entered) > self.window:
                continue
            if not self._sizes_match(order_qty, other_qty) or not self._sizes_match(
                ev.quantity, qty
            ):
                continue
            if abs(ev.price - price) / min(ev.price, price) * BP > self.price_tolerance:
                continue
            found = self._finding(ev, other, entered_at, order_qty)
            break
        queue.append(
            (
                ev.ts,
                ev.side,
                ev.quantity,
                ev.price,
                ev.account,
                ev.owner,
                ev.order_id,
                ev.fill_id,
                entered_at,
                order_qty,
            )
        )
        return found

    def _finding(self, ev, other, entered_at, order_qty) -> Finding:
        ts, side, qty, price, account, owner, order_id, fill_id, other_entered, _ = other
        pair = tuple(sorted((owner, ev.owner)))
        times = self.pairs.get(pair)
        if times is None:
            times = self.pairs[pair] = deque()
        while times and times[0] < ev.ts - self.repeat_window:
            times.popleft()
        times.append(ev.ts)
        repeats = len(times)
        apart = abs(ev.ts - ts)
        exact = qty == ev.quantity and price == ev.price
        score = Decimal("0.7") + (Decimal("0.1") if exact else 0)
        score += Decimal("0.1") * (repeats - 1)
        buy_account, sell_account = (
            (ev.account, account) if ev.side == "buy" else (account, ev.account)
        )
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{pair[0]}:{pair[1]}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(score),
            title=(
                f"Matched orders in {ev.instrument}: {buy_account} bought and {sell_account} "
                f"sold {ev.quantity} at {ev.price}, {apart:.3f} s apart (unrelated owners"
                + (f", {repeats} times" if repeats > 1 else "")
                + ")"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=min(ts, ev.ts, entered_at, other_entered),
            window_end=ev.ts,
            orders=(order_id, ev.order_id),
            fills=(fill_id, ev.fill_id),
            details={
                "grouping": "owner",
                "owners": list(pair),
                "accounts": sorted({account, ev.account}),
                "buy_account": buy_account,
                "sell_account": sell_account,
                "seconds_apart": round(apart, 3),
                "entered_seconds_apart": round(abs(entered_at - other_entered), 3),
                "quantity": str(ev.quantity),
                "prices": [str(price), str(ev.price)],
                "exact": exact,
                "repeats": repeats,
            },
        )
