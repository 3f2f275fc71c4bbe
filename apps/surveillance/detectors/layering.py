"""Layering (MAR Annex I 1(a)(ii)): several orders stacked on one side at different prices,
then canceled soon after an execution on the other side: the stack moved the price for it.
Resting orders that stay after the fill, or that go much later, are ordinary quoting."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.base import (
    DEDUP,
    Detector,
    Finding,
    Param,
    score_of,
)
from apps.surveillance.stream import AMEND, CANCEL, DENY, EXPIRE, FILL, NEW


class LayeringDetector(Detector):
    name = "layering"
    severity = "warning"
    params_spec = {
        "min_orders": Param(
            int, 3, 2, "At least this many orders at different prices on one side."
        ),
        "cancel_within_seconds": Param(
            Decimal,
            "10",
            Decimal("0.001"),
            "Canceled within this many seconds of the opposite execution.",
        ),
        "order_max_age_seconds": Param(
            int,
            300,
            1,
            "Orders resting longer than this before the execution are not part of a layer.",
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, AMEND, FILL, CANCEL, DENY, EXPIRE)

    def setup(self) -> None:
        self.min_orders = self.params["min_orders"]
        self.window = float(self.params["cancel_within_seconds"])
        self.max_age = float(self.params["order_max_age_seconds"])
        # (account, instrument) -> {order id: [ts, side, price]}: resting limit orders
        self.resting: dict[tuple[str, str], dict[int, list]] = {}
        # (account, instrument) -> deque of candidate layers, each a dict
        self.candidates: dict[tuple[str, str], deque] = {}

    def horizon(self) -> float:
        return self.max_age + self.window

    def sweep(self, now: float) -> None:
        cutoff = now - self.max_age - self.window
        for book in self.resting.values():
            for order_id in [k for k, v in book.items() if v[0] < cutoff]:
                del book[order_id]
        for queue in self.candidates.values():
            self._expire(queue, now)
        for table in (self.resting, self.candidates):
            for key in [k for k, v in table.items() if not v]:  # emptied: the key goes too
                del table[key]

    def _expire(self, candidates: deque, now: float) -> None:
        while candidates and candidates[0]["ts"] < now - self.window:
            candidates.popleft()

    def feed_new(self, ev) -> None:
        if ev.price is not None:
            key = (ev.account, ev.instrument)
            book = self.resting.get(key)
            if book is None:
                book = self.resting[key] = {}
            book[ev.order_id] = [ev.ts, ev.side, ev.price]

    def feed_deny(self, ev) -> None:
        """A held order denied, or an order expired: no longer resting, not a cancel."""
        book = self.resting.get((ev.account, ev.instrument))
        if book:
            book.pop(ev.order_id, None)

    feed_expire = feed_deny

    def feed_amend(self, ev) -> None:
        book = self.resting.get((ev.account, ev.instrument))
        if book and ev.order_id in book and ev.price is not None:
            book[ev.order_id][2] = ev.price

    def feed_fill(self, ev) -> None:
        key = (ev.account, ev.instrument)
        book = self.resting.get(key)
        if not book:
            return
        book.pop(ev.order_id, None)  # a filled order is not a layer
        if len(book) < self.min_orders:
            return
        oldest = ev.ts - self.max_age
        layer = {
            order_id: price
            for order_id, (ts, side, price) in book.items()
            if side != ev.side and oldest <= ts <= ev.ts
        }
        if len(set(layer.values())) < self.min_orders:
            return
        queue = self.candidates.get(key)
        if queue is None:
            queue = self.candidates[key] = deque()
        queue.append(
            {
                "ts": ev.ts,
                "fill_id": ev.fill_id,
                "fill_order": ev.order_id,
                "fill_side": ev.side,
                "layer": layer,
                "canceled": {},
                "done": False,
                "first_ts": min(book[o][0] for o in layer),
            }
        )

    def feed_cancel(self, ev) -> Finding | None:
        key = (ev.account, ev.instrument)
        book = self.resting.get(key)
        if book:
            book.pop(ev.order_id, None)
        queue = self.candidates.get(key)
        if not queue:
            return None
        self._expire(queue, ev.ts)
        found = None
        for candidate in queue:
            price = candidate["layer"].get(ev.order_id)
            if price is None or candidate["done"]:
                continue
            candidate["canceled"][ev.order_id] = price
            levels = len(set(candidate["canceled"].values()))
            if levels >= self.min_orders and found is None:
                candidate["done"] = True
                found = self._finding(ev, candidate, levels)
        return found

    def _finding(self, ev, candidate, levels) -> Finding:
        canceled = candidate["canceled"]
        side = "buy" if candidate["fill_side"] == "sell" else "sell"
        prices = sorted(set(canceled.values()))
        after = ev.ts - candidate["ts"]
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(Decimal("0.5") + Decimal(levels) / 10),
            title=(
                f"Possible layering in {ev.instrument}: {len(canceled)} {side} orders at "
                f"{levels} prices canceled within {after:.3f} s of a {candidate['fill_side']} "
                "execution"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=candidate["first_ts"],
            window_end=ev.ts,
            orders=(*sorted(canceled), candidate["fill_order"]),
            fills=(candidate["fill_id"],),
            details={
                "layer_side": side,
                "levels": levels,
                "prices": [str(p) for p in prices],
                "execution_side": candidate["fill_side"],
                "seconds_after_execution": round(after, 3),
            },
        )
