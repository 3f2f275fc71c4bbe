"""Layering (MAR Annex I 1(a)(ii); Delegated Regulation 2016/522 Annex II 1(e)): several
orders stacked on one side at different prices, then canceled soon after an execution on the
other side: the stack moved the price for it. Looked at per beneficial owner by default, so a
stack split across the owner's accounts is one stack.

Resting orders that stay after the fill, or that go much later, are ordinary quoting. A market
maker quoting both sides pulls and replaces its ladder after every fill: an account flagged as a
market maker, and a stack balanced by resting orders on the other side (two-sided quoting),
score lower, below the alerting threshold when both hold. Every order of the stack is listed,
canceled or not yet, and, with the market's data, the price move over the episode and each
layer's distance from the touch when it was placed.
"""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.base import (
    DEDUP,
    Detector,
    Finding,
    Param,
    group_keys,
    grouping_param,
    groupings_of,
    is_market_maker,
    market_of,
    min_score_param,
    score_of,
)
from apps.surveillance.stream import AMEND, CANCEL, DENY, EXPIRE, FILL, NEW

MARKET_MAKER_DISCOUNT = Decimal("0.3")
TWO_SIDED_DISCOUNT = Decimal("0.2")


class LayeringDetector(Detector):
    name = "layering"
    severity = "warning"
    params_spec = {
        "min_orders": Param(
            int, 3, 2, "At least this many orders at different prices on one side."
        ),
        "cancel_within_seconds": Param(
            Decimal,
            "30",
            Decimal("0.001"),
            "Canceled within this many seconds of the opposite execution.",
        ),
        "order_max_age_seconds": Param(
            int,
            300,
            1,
            "Orders resting longer than this before the execution are not part of a layer.",
        ),
        "group_by": grouping_param("owner"),
        "min_score": min_score_param("0.5"),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, AMEND, FILL, CANCEL, DENY, EXPIRE)

    def setup(self) -> None:
        self.min_orders = self.params["min_orders"]
        self.window = float(self.params["cancel_within_seconds"])
        self.max_age = float(self.params["order_max_age_seconds"])
        self.groupings = groupings_of(self.params["group_by"])
        self.single = self.groupings[0] if len(self.groupings) == 1 else None
        self.min_score = self.params["min_score"]
        # (grouping, who, instrument) -> {order id: [ts, side, price, account, quantity]}:
        # resting limit orders
        self.resting: dict[tuple, dict[int, list]] = {}
        # (grouping, who, instrument) -> deque of candidate layers, each a dict
        self.candidates: dict[tuple, deque] = {}

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

    def _keys(self, ev) -> list[tuple]:
        if self.single is not None:  # the usual case, on the hot path
            name, attr = self.single
            who = getattr(ev, attr)
            return [(name, who, ev.instrument)] if who else []
        instrument = ev.instrument
        return [(g, who, instrument) for g, who in group_keys(ev, self.groupings)]

    def feed_new(self, ev) -> None:
        if ev.price is None:
            return
        for key in self._keys(ev):
            book = self.resting.get(key)
            if book is None:
                book = self.resting[key] = {}
            book[ev.order_id] = [ev.ts, ev.side, ev.price, ev.account, ev.quantity]

    def feed_deny(self, ev) -> None:
        """A held order denied, or an order expired: no longer resting, not a cancel."""
        for key in self._keys(ev):
            book = self.resting.get(key)
            if book:
                book.pop(ev.order_id, None)

    feed_expire = feed_deny

    def feed_amend(self, ev) -> None:
        for key in self._keys(ev):
            book = self.resting.get(key)
            if book and ev.order_id in book and ev.price is not None:
                book[ev.order_id][2] = ev.price
                book[ev.order_id][4] = ev.quantity

    def feed_fill(self, ev) -> None:
        for key in self._keys(ev):
            self._fill(key, ev)

    def _fill(self, key, ev) -> None:
        book = self.resting.get(key)
        if not book:
            return
        filled = book.pop(ev.order_id, None)  # a filled order is not a layer
        if len(book) < self.min_orders:
            return
        oldest = ev.ts - self.max_age
        layer, same_side = {}, Decimal(0)
        if filled is not None and filled[1] == ev.side:
            # the level just hit was quoting this side until now: a ladder whose largest level
            # is taken is still two-sided
            same_side += filled[4]
        for order_id, (ts, side, price, account, quantity) in book.items():
            if not oldest <= ts <= ev.ts:
                continue
            if side != ev.side:
                layer[order_id] = (ts, price, account, quantity)
            else:
                same_side += quantity
        if len({entry[1] for entry in layer.values()}) < self.min_orders:
            return
        layer_quantity = sum((entry[3] for entry in layer.values()), Decimal(0))
        queue = self.candidates.get(key)
        if queue is None:
            queue = self.candidates[key] = deque()
        queue.append(
            {
                "ts": ev.ts,
                "fill_id": ev.fill_id,
                "fill_order": ev.order_id,
                "fill_side": ev.side,
                "fill_account": ev.account,
                "fill_price": ev.price,
                "layer": layer,
                "canceled": {},
                "done": False,
                "first_ts": min(entry[0] for entry in layer.values()),
                # the other side quoted about as much as the stack: a two-sided quote
                "two_sided": same_side * 2 >= layer_quantity,
            }
        )

    def feed_cancel(self, ev) -> list[Finding] | None:
        found = []
        for key in self._keys(ev):
            finding = self._cancel(key, ev)
            if finding is not None:
                found.append(finding)
        return found or None

    def _cancel(self, key, ev) -> Finding | None:
        book = self.resting.get(key)
        if book:
            book.pop(ev.order_id, None)
        queue = self.candidates.get(key)
        if not queue:
            return None
        self._expire(queue, ev.ts)
        found = None
        for candidate in queue:
            entry = candidate["layer"].get(ev.order_id)
            if entry is None or candidate["done"]:
                continue
            candidate["canceled"][ev.order_id] = entry[1]
            levels = len(set(candidate["canceled"].values()))
            if levels >= self.min_orders and found is None:
                candidate["done"] = True
                found = self._finding(key, ev, candidate, levels)
        return found

    def _finding(self, key, ev, candidate, levels) -> Finding | None:
        grouping, who, instrument = key
        layer, canceled = candidate["layer"], candidate["canceled"]
        accounts = sorted({entry[2] for entry in layer.values()} | {candidate["fill_account"]})
        maker = any(is_market_maker(self.context, account) for account in accounts)
        score = Decimal("0.5") + Decimal(levels) / 10
        if maker:
            score -= MARKET_MAKER_DISCOUNT
        if candidate["two_sided"]:
            score -= TWO_SIDED_DISCOUNT
        score = score_of(score)
        if score < self.min_score:
            return None
        side = "buy" if candidate["fill_side"] == "sell" else "sell"
        after = ev.ts - candidate["ts"]
        layer_orders = sorted(layer)
        # The stack's account (the first order's), where the owner's accounts shared it.
        account = layer[layer_orders[0]][2]
        details = {
            "grouping": grouping,
            "group": who,
            "accounts": accounts,
            "layer_side": side,
            "levels": levels,
            "layer_orders": layer_orders,
            "canceled_orders": sorted(canceled),
            "prices": [str(p) for p in sorted({entry[1] for entry in layer.values()})],
            "execution_side": candidate["fill_side"],
            "seconds_after_execution": round(after, 3),
            "market_maker": maker,
            "two_sided_quoting": candidate["two_sided"],
        }
        market = market_of(self.context)
        if market is not None:
            details["market"] = _market_evidence(market, instrument, side, candidate, ev.ts)
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{grouping}:{who}:{instrument}",
            account=account,
            instrument=instrument,
            score=score,
            title=(
                f"Possible layering in {instrument}: {len(layer)} {side} orders at "
                f"{len(details['prices'])} prices, {len(canceled)} canceled within {after:.3f} s "
                f"of a {candidate['fill_side']} execution"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=candidate["first_ts"],
            window_end=ev.ts,
            orders=(*layer_orders, candidate["fill_order"]),
            fills=(candidate["fill_id"],),
            details=details,
        )


def _text(value) -> str | None:
    return None if value is None else str(value)


def _market_evidence(market, instrument, side, candidate, now) -> dict:
    """What the market did over the episode: the price move from the first layer to the last
    cancel, and how far each layer sat from the touch when it was placed."""
    distances = {
        str(order_id): _text(market.distance_from_touch_bp(instrument, ts, side, price))
        for order_id, (ts, price, _account, _quantity) in sorted(candidate["layer"].items())
    }
    touch = market.touch(instrument, candidate["ts"])
    return {
        "price_move_bp": _text(market.price_move_bp(instrument, candidate["first_ts"], now)),
        "layer_distance_from_touch_bp": distances,
        "touch_at_execution": None if touch is None else [_text(touch[0]), _text(touch[1])],
    }
