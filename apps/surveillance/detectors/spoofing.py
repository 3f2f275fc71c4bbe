"""Spoofing (MAR Annex I 1(a)(ii)): an order placed and canceled within seconds before any of
it fills, large against the account's usual size in the instrument, all the more when an order
on the other side fills meanwhile. A market maker's quick cancel of a usual-sized quote is not
spoofing: size is what tells them apart."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, pop_older, score_of
from apps.surveillance.stream import CANCEL, FILL, NEW

ZERO = Decimal(0)


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
            "At least this many times the account's usual order size in the instrument.",
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
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, CANCEL, FILL)

    def setup(self) -> None:
        self.window = float(self.params["cancel_within_seconds"])
        self.multiple = self.params["size_multiple"]
        self.baseline_span = float(self.params["baseline_seconds"])
        self.baseline_min = self.params["baseline_min_orders"]
        # order id -> (ts, side, quantity, usual size or None); only orders young enough
        self.young: dict[int, tuple] = {}
        self.young_queue: deque = deque()  # (ts, order id)
        # (account, instrument) -> [deque of (ts, quantity), running total]
        self.sizes: dict[tuple[str, str], list] = {}
        # (account, instrument) -> deque of (ts, side, fill id)
        self.fills: dict[tuple[str, str], deque] = {}

    def horizon(self) -> float:
        return self.baseline_span + self.window

    def sweep(self, now: float) -> None:
        # Whole keys that left the windows go; a live key's old entries go when it is next fed.
        self._forget_young(now)
        cutoff = now - self.baseline_span
        stale = [k for k, entry in self.sizes.items() if not entry[0] or entry[0][-1][0] < cutoff]
        for key in stale:
            del self.sizes[key]
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

    def feed_new(self, ev) -> None:
        key = (ev.account, ev.instrument)
        entry = self.sizes.get(key)
        if entry is None:
            entry = self.sizes[key] = [deque(), ZERO]
        else:
            self._trim_sizes(entry, ev.ts)
        # The baseline as it stood when the order came (total, count): divided only if needed.
        baseline = (entry[1], len(entry[0]))
        entry[0].append((ev.ts, ev.quantity))
        entry[1] += ev.quantity
        self._forget_young(ev.ts)
        self.young[ev.order_id] = (ev.ts, ev.side, ev.quantity, baseline)
        self.young_queue.append((ev.ts, ev.order_id))

    def feed_fill(self, ev) -> None:
        self.young.pop(ev.order_id, None)  # partly filled: not a spoof
        key = (ev.account, ev.instrument)
        queue = self.fills.get(key)
        if queue is None:
            queue = self.fills[key] = deque()
        else:
            pop_older(queue, ev.ts - self.window)
        queue.append((ev.ts, ev.side, ev.fill_id, ev.order_id))

    def feed_cancel(self, ev) -> Finding | None:
        placed = self.young.pop(ev.order_id, None)
        if placed is None or ev.filled:
            return None
        ts, side, quantity, (total, count) = placed
        lifetime = ev.ts - ts
        if lifetime > self.window or count < self.baseline_min or total <= 0:
            return None
        usual = total / count
        ratio = quantity / usual
        if ratio < self.multiple:
            return None
        opposite = [
            (fill_id, order_id)
            for fill_ts, fill_side, fill_id, order_id in self.fills.get(
                (ev.account, ev.instrument), ()
            )
            if fill_side != side and ts <= fill_ts <= ev.ts
        ]
        score = Decimal("0.5") + min(ratio / self.multiple, Decimal(4)) / 10
        if opposite:
            score += Decimal("0.2")
        shown = ratio.quantize(Decimal("0.1"))
        title = (
            f"Possible spoofing in {ev.instrument}: {side} {quantity} ({shown}x usual) "
            f"canceled after {lifetime:.3f} s, unfilled"
        )
        if opposite:
            title += f", while {len(opposite)} opposite fill(s) executed"
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(score),
            title=title,
            seq=ev.seq,
            ts=ev.ts,
            window_start=ts,
            window_end=ev.ts,
            orders=(ev.order_id, *(order_id for _, order_id in opposite)),
            fills=tuple(fill_id for fill_id, _ in opposite),
            details={
                "side": side,
                "quantity": str(quantity),
                "usual_quantity": str(usual.quantize(Decimal("0.00000001"))),
                "baseline_orders": count,
                "size_multiple": str(shown),
                "lifetime_seconds": round(lifetime, 3),
                "opposite_fills": len(opposite),
            },
        )
