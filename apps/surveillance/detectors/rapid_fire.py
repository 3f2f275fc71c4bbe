"""Rapid-fire orders (MiFID II RTS 6 art. 17 throttles; MAR Annex II quote stuffing): an
account sending more orders per minute than its limit. One alert when the rate crosses the
limit, not one per order above it. A market maker's quoting is left out: it replaces its orders
all session by design; its message rate is excessive_messaging's to judge."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.account_kinds import MARKET_MAKER, account_kind_reader
from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, prune_keys, score_of
from apps.surveillance.stream import NEW, REJECT

EVIDENCE_ORDERS = 200


class RapidFireDetector(Detector):
    name = "rapid_fire"
    severity = "warning"
    params_spec = {
        "max_orders": Param(int, 60, 1, "More orders than this within the window is rapid fire."),
        "window_seconds": Param(int, 60, 1, "The sliding window, in seconds."),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, REJECT)

    def setup(self) -> None:
        self.limit = self.params["max_orders"]
        self.window = float(self.params["window_seconds"])
        self.recent: dict[str, deque] = {}  # account -> deque of (ts, order id, instrument)
        self.above: set[str] = set()
        self.kind_of = account_kind_reader(self.context)

    def horizon(self) -> float:
        return self.window

    def sweep(self, now: float) -> None:
        prune_keys(self.recent, now - self.window, lambda q: q[-1][0] if q else 0.0)
        self.above &= set(self.recent)

    def feed_new(self, ev) -> Finding | None:
        if self.kind_of(ev.account) == MARKET_MAKER:
            return None  # quoting replaces orders all day; excessive_messaging counts its rate
        queue = self.recent.get(ev.account)
        if queue is None:
            queue = self.recent[ev.account] = deque()
        cutoff = ev.ts - self.window
        while queue and queue[0][0] <= cutoff:
            queue.popleft()
        queue.append((ev.ts, ev.order_id, ev.instrument))
        count = len(queue)
        if count <= self.limit:
            self.above.discard(ev.account)
            return None
        if ev.account in self.above:
            return None
        self.above.add(ev.account)
        instruments = sorted({i for _, _, i in queue})
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}",
            account=ev.account,
            instrument=ev.instrument if len(instruments) == 1 else "",
            score=score_of(Decimal("0.5") + Decimal(count - self.limit) / (2 * self.limit)),
            title=(
                f"Rapid fire: {ev.account} sent {count} orders within {self.window:g} s "
                f"(limit {self.limit})"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=queue[0][0],
            window_end=ev.ts,
            orders=tuple(order_id for _, order_id, _ in list(queue)[-EVIDENCE_ORDERS:]),
            details={"orders": count, "limit": self.limit, "instruments": instruments[:20]},
        )

    feed_reject = feed_new
