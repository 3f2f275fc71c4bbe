"""Wash trading (MAR Annex I 1(a)): the same account, or accounts of the same beneficial
owner, buying and selling one instrument within seconds, with no change in who owns it.
Matched trades, a buy and a sell at the same price and quantity, are kept apart longer."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, pop_older, prune_keys
from apps.surveillance.stream import FILL


class WashTradeDetector(Detector):
    name = "wash_trade"
    severity = "critical"
    params_spec = {
        "window_seconds": Param(
            Decimal,
            "5",
            Decimal("0.001"),
            "A buy and a sell by one owner this close together is a wash trade.",
        ),
        "matched_window_seconds": Param(
            Decimal,
            "60",
            Decimal(0),
            "A buy and a sell at the same price and quantity this close together is one too.",
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (FILL,)

    def setup(self) -> None:
        self.window = float(self.params["window_seconds"])
        self.matched_window = float(self.params["matched_window_seconds"])
        self.keep = max(self.window, self.matched_window)
        # (owner, instrument) -> deque of (ts, side, quantity, price, account, fill id, order id)
        self.recent: dict[tuple[str, str], deque] = {}

    def horizon(self) -> float:
        return self.keep

    def sweep(self, now: float) -> None:
        prune_keys(self.recent, now - self.keep, lambda q: q[-1][0] if q else 0.0)

    def feed_fill(self, ev) -> Finding | None:
        key = (ev.owner, ev.instrument)
        queue = self.recent.get(key)
        if queue is None:
            queue = self.recent[key] = deque()
        else:
            pop_older(queue, ev.ts - self.keep)
        found = None
        for ts, side, quantity, price, account, fill_id, order_id in reversed(queue):
            if side == ev.side:
                continue
            apart = abs(ev.ts - ts)
            matched = quantity == ev.quantity and price == ev.price
            if apart <= self.window or (matched and apart <= self.matched_window):
                found = self._finding(ev, ts, account, fill_id, order_id, apart, matched)
                break
        queue.append((ev.ts, ev.side, ev.quantity, ev.price, ev.account, ev.fill_id, ev.order_id))
        return found

    def _finding(self, ev, ts, account, fill_id, order_id, apart, matched) -> Finding:
        same_account = account == ev.account
        who = "the same account" if same_account else f"{account} and {ev.account}, one owner"
        what = "matched trades (same price and quantity)" if matched else "a buy and a sell"
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.owner}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=Decimal(1) if matched else Decimal("0.8"),
            title=f"Wash trade in {ev.instrument}: {what} by {who}, {apart:.3f} s apart",
            seq=ev.seq,
            ts=ev.ts,
            window_start=min(ts, ev.ts),
            window_end=max(ts, ev.ts),
            orders=(order_id, ev.order_id),
            fills=(fill_id, ev.fill_id),
            details={
                "owner": ev.owner,
                "accounts": sorted({account, ev.account}),
                "seconds_apart": round(apart, 3),
                "matched": matched,
                "quantity": str(ev.quantity),
                "price": str(ev.price),
            },
        )
