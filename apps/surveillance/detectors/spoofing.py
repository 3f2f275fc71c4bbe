"""Spoofing (MAR Annex I 1(a)(ii); Delegated Regulation 2016/522 Annex II 1(e)): an order
placed and canceled within seconds before any of it fills, large against the usual order size,
while an order on the other side executes: the benefit leg the false order was for. Looked at
per beneficial owner by default, so the benefit may come in another of the owner's accounts.

Without a benefit leg the score stays low (below the alerting threshold by default). A market
maker's quick cancel of a usual-sized quote is not spoofing: size tells them apart; and an
account flagged as a market maker, or a cancel that leaves a comparable quote on the other side
(two-sided quoting), scores lower. A held order enters the stream only when it is released
(apps.surveillance.stream): one withdrawn while held never reached the market.
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
    pop_older,
    score_of,
)
from apps.surveillance.stream import CANCEL, DENY, EXPIRE, FILL, NEW

ZERO = Decimal(0)
MARKET_MAKER_DISCOUNT = Decimal("0.3")
TWO_SIDED_DISCOUNT = Decimal("0.15")


class SpoofingDetector(Detector):
    name = "spoofing"
    severity = "warning"
    params_spec = {
        "cancel_within_seconds": Param(
            Decimal,
            "2",
            Decimal("0.001"),
            "Placed and canceled within this many seconds, unfilled.",
        ),
        "size_multiple": Param(
            Decimal,
            "3",
            Decimal(1),
            "At least this many times the usual order size in the instrument.",
        ),
        "baseline_seconds": Param(
            int,
            1800,
            1,
            "The usual size is the mean order size over this many seconds before the order.",
        ),
        "baseline_min_orders": Param(
            int,
            5,
            1,
            "Fewer earlier orders than this: too little history to call any size unusual.",
        ),
        "group_by": grouping_param("owner"),
        "min_score": min_score_param("0.5"),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, CANCEL, FILL, DENY, EXPIRE)

    def setup(self) -> None:
        self.window = float(self.params["cancel_within_seconds"])
        self.multiple = self.params["size_multiple"]
        self.baseline_span = float(self.params["baseline_seconds"])
        self.baseline_min = self.params["baseline_min_orders"]
        self.groupings = groupings_of(self.params["group_by"])
        self.single = self.groupings[0] if len(self.groupings) == 1 else None
        self.min_score = self.params["min_score"]
        # order id -> (ts, side, quantity, price, {group key: usual size (total, count)});
        # only orders young enough
        self.young: dict[int, tuple] = {}
        self.young_queue: deque = deque()  # (ts, order id)
        # group key -> [deque of (ts, quantity), running total]
        self.sizes: dict[tuple, list] = {}
        # group key -> deque of (ts, side, fill id, order id)
        self.fills: dict[tuple, deque] = {}
        # group key -> {order id: (ts, side, quantity)}: working orders, for two-sided quoting;
        # and (ts, group key, order id) in arrival order, to forget them past the baseline
        self.working: dict[tuple, dict[int, tuple]] = {}
        self.working_queue: deque = deque()

    def horizon(self) -> float:
        return self.baseline_span + self.window

    def sweep(self, now: float) -> None:
        # Whole keys that left the windows go; a live key's old entries go when it is next fed.
        self._forget_young(now)
        cutoff = now - self.baseline_span
        stale = [k for k, entry in self.sizes.items() if not entry[0] or entry[0][-1][0] < cutoff]
        for key in stale:
            del self.sizes[key]
        queue, working = self.working_queue, self.working
        while queue and queue[0][0] < cutoff:
            _ts, key, order_id = queue.popleft()
            book = working.get(key)
            if book is not None:
                book.pop(order_id, None)
                if not book:
                    del working[key]
        cutoff = now - self.window
        stale = [k for k, queue in self.fills.items() if not queue or queue[-1][0] < cutoff]
        for key in stale:
            del self.fills[key]

    def _forget_young(self, now: float) -> None:
        queue, young, cutoff = self.young_queue, self.young, now - self.window
        while queue and queue[0][0] < cutoff:
            young.pop(queue.popleft()[1], None)

    def _trim_sizes(self, entry: list, now: float) -> None:
        queue, cutoff = entry[0], now - self.baseline_span
        while queue and queue[0][0] < cutoff:
            entry[1] -= queue.popleft()[1]

    def _keys(self, ev) -> list[tuple]:
        if self.single is not None:  # the usual case, on the hot path
            name, attr = self.single
            who = getattr(ev, attr)
            return [(name, who, ev.instrument)] if who else []
        instrument = ev.instrument
        return [(g, who, instrument) for g, who in group_keys(ev, self.groupings)]

    def feed_new(self, ev) -> None:
        baselines = {}
        for key in self._keys(ev):
            entry = self.sizes.get(key)
            if entry is None:
                entry = self.sizes[key] = [deque(), ZERO]
            else:
                self._trim_sizes(entry, ev.ts)
            # The baseline as it stood when the order came (total, count): divided if needed.
            baselines[key] = (entry[1], len(entry[0]))
            entry[0].append((ev.ts, ev.quantity))
            entry[1] += ev.quantity
            book = self.working.get(key)
            if book is None:
                book = self.working[key] = {}
            book[ev.order_id] = (ev.ts, ev.side, ev.quantity)
            self.working_queue.append((ev.ts, key, ev.order_id))
        self._forget_young(ev.ts)
        self.young[ev.order_id] = (ev.ts, ev.side, ev.quantity, ev.price, baselines)
        self.young_queue.append((ev.ts, ev.order_id))

    def _done(self, ev) -> None:
        for key in self._keys(ev):
            book = self.working.get(key)
            if book:
                book.pop(ev.order_id, None)

    def feed_deny(self, ev) -> None:
        self.young.pop(ev.order_id, None)
        self._done(ev)

    feed_expire = feed_deny

    def feed_fill(self, ev) -> None:
        self.young.pop(ev.order_id, None)  # partly filled: not a spoof
        self._done(ev)  # an order that trades is no longer a quote standing against another
        for key in self._keys(ev):
            queue = self.fills.get(key)
            if queue is None:
                queue = self.fills[key] = deque()
            else:
                pop_older(queue, ev.ts - self.window)
            queue.append((ev.ts, ev.side, ev.fill_id, ev.order_id))

    def feed_cancel(self, ev) -> list[Finding] | None:
        placed = self.young.pop(ev.order_id, None)
        self._done(ev)
        if placed is None or ev.filled:
            return None
        ts, side, quantity, price, baselines = placed
        lifetime = ev.ts - ts
        if lifetime > self.window:
            return None
        found = []
        for key, (total, count) in baselines.items():
            finding = self._judge(ev, key, ts, side, quantity, price, total, count)
            if finding is not None:
                found.append(finding)
        return found or None

    def _judge(self, ev, key, ts, side, quantity, price, total, count) -> Finding | None:
        if count < self.baseline_min or total <= 0:
            return None
        usual = total / count
        ratio = quantity / usual
        if ratio < self.multiple:
            return None
        grouping, who, instrument = key
        opposite = [
            (fill_id, order_id)
            for fill_ts, fill_side, fill_id, order_id in self.fills.get(key, ())
            if fill_side != side and ts <= fill_ts <= ev.ts
        ]
        other_side = sum((q for _ts, s, q in self.working.get(key, {}).values() if s != side), ZERO)
        two_sided = other_side * 2 >= quantity
        maker = is_market_maker(self.context, ev.account)
        size = min(ratio / self.multiple, Decimal(4))
        # The benefit leg (an opposite execution) is what makes a high score.
        score = Decimal("0.6") + size / 10 if opposite else Decimal("0.25") + size / 20
        if maker:
            score -= MARKET_MAKER_DISCOUNT
        if two_sided:
            score -= TWO_SIDED_DISCOUNT
        score = score_of(score)
        if score < self.min_score:
            return None
        shown = ratio.quantize(Decimal("0.1"))
        title = (
            f"Possible spoofing in {instrument}: {side} {quantity} ({shown}x usual) "
            f"canceled after {ev.ts - ts:.3f} s, unfilled"
        )
        if opposite:
            title += f", while {len(opposite)} opposite fill(s) executed"
        else:
            title += ", no opposite execution"
        details = {
            "grouping": grouping,
            "group": who,
            "side": side,
            "quantity": str(quantity),
            "usual_quantity": str(usual.quantize(Decimal("0.00000001"))),
            "baseline_orders": count,
            "size_multiple": str(shown),
            "lifetime_seconds": round(ev.ts - ts, 3),
            "opposite_fills": len(opposite),
            "benefit_leg": bool(opposite),
            "market_maker": maker,
            "two_sided_quoting": two_sided,
        }
        market = market_of(self.context)
        if market is not None:
            details["market"] = _market_evidence(market, instrument, side, price, ts, ev.ts)
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{grouping}:{who}:{instrument}",
            account=ev.account,
            instrument=instrument,
            score=score,
            title=title,
            seq=ev.seq,
            ts=ev.ts,
            window_start=ts,
            window_end=ev.ts,
            orders=(ev.order_id, *(order_id for _, order_id in opposite)),
            fills=tuple(fill_id for fill_id, _ in opposite),
            details=details,
        )


def _text(value) -> str | None:
    return None if value is None else str(value)


def _market_evidence(market, instrument, side, price, placed, canceled) -> dict:
    """The price move while the order stood, and how far from the touch it was placed."""
    distance = None
    if price is not None:
        distance = market.distance_from_touch_bp(instrument, placed, side, price)
    touch = market.touch(instrument, placed)
    return {
        "price_move_bp": _text(market.price_move_bp(instrument, placed, canceled)),
        "distance_from_touch_bp": _text(distance),
        "touch_at_placement": None if touch is None else [_text(touch[0]), _text(touch[1])],
    }
