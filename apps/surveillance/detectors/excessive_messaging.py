"""Excessive messaging and quote stuffing (MAR art. 12(2)(c); Delegated Regulation 2016/522
Annex II section 1, "quote stuffing"; MiFID II RTS 6 art. 17 message limits):
more order messages within seconds than a venue's throttle allows (by default over 100 in 2 s),
counted per account and per trader (the submitting user). Every message counts (a new order,
an amendment, a cancel, a rejected attempt), so a hundred amendments to one order are as
visible as a hundred new orders. One alert per burst."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, prune_keys, score_of
from apps.surveillance.stream import AMEND, CANCEL, NEW, REJECT

EVIDENCE_ORDERS = 200


class ExcessiveMessagingDetector(Detector):
    name = "excessive_messaging"
    severity = "warning"
    params_spec = {
        "max_messages": Param(
            int, 100, 1, "More messages than this within the window is excessive messaging."
        ),
        "window_seconds": Param(
            Decimal, "2", Decimal("0.01"), "The sliding window, in seconds.", Decimal(60)
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, REJECT, AMEND, CANCEL)

    def setup(self) -> None:
        self.limit = self.params["max_messages"]
        self.window = float(self.params["window_seconds"])
        # (grouping, who) -> deque of (ts, kind, order id, account, instrument)
        self.recent: dict[tuple[str, str], deque] = {}
        self.above: set[tuple[str, str]] = set()

    def horizon(self) -> float:
        return self.window

    def sweep(self, now: float) -> None:
        prune_keys(self.recent, now - self.window, lambda q: q[-1][0] if q else 0.0)
        self.above &= set(self.recent)

    def _count(self, key: tuple[str, str], ev) -> Finding | None:
        queue = self.recent.get(key)
        if queue is None:
            queue = self.recent[key] = deque()
        cutoff = ev.ts - self.window
        while queue and queue[0][0] <= cutoff:
            queue.popleft()
        queue.append((ev.ts, ev.kind, ev.order_id, ev.account, ev.instrument))
        if len(queue) <= self.limit:
            self.above.discard(key)
            return None
        if key in self.above:
            return None
        self.above.add(key)
        return self._finding(key, queue, ev)

    def _finding(self, key, queue, ev) -> Finding:
        grouping, who = key
        count = len(queue)
        kinds: dict[str, int] = {}
        per_order: dict = {}
        for _, kind, order_id, _, _ in queue:
            kinds[kind] = kinds.get(kind, 0) + 1
            per_order[order_id] = per_order.get(order_id, 0) + 1
        busiest, busiest_count = max(per_order.items(), key=lambda item: item[1])
        instruments = sorted({i for *_, i in queue})
        accounts = sorted({a for *_, a, _ in queue})
        rate = count / self.window
        what = f"{kinds.get(AMEND, 0)} amendments" if kinds.get(AMEND) else f"{count} messages"
        if kinds.get(AMEND) and busiest_count > count // 2:
            what += f" ({busiest_count} to one order)"
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{grouping}:{who}",
            account=ev.account,
            instrument=instruments[0] if len(instruments) == 1 else "",
            score=score_of(Decimal("0.6") + Decimal(count - self.limit) / (2 * self.limit)),
            title=(
                f"Excessive messaging: {grouping} {who} sent {count} messages within "
                f"{self.window:g} s, {what} (limit {self.limit})"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=queue[0][0],
            window_end=ev.ts,
            orders=tuple(dict.fromkeys(o for _, _, o, _, _ in queue if o is not None))[
                -EVIDENCE_ORDERS:
            ],
            details={
                "grouping": grouping,
                grouping: who,
                "messages": count,
                "per_second": round(rate, 1),
                "limit": self.limit,
                "window_seconds": self.window,
                "by_kind": kinds,
                "busiest_order": busiest,
                "busiest_order_messages": busiest_count,
                "accounts": accounts[:20],
                "instruments": instruments[:20],
            },
        )

    def feed_new(self, ev) -> Finding | list[Finding] | None:
        found = self._count(("account", ev.account), ev)
        user = getattr(ev, "user", None)
        if not user:
            return found
        by_user = self._count(("trader", str(user)), ev)
        if by_user is None:
            return found
        return [by_user] if found is None else [found, by_user]

    feed_reject = feed_amend = feed_cancel = feed_new
