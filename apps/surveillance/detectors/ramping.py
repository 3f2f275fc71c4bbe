"""Ramping and momentum ignition (MAR Annex I 1(a), 2(b); Delegated Regulation 2016/522 Annex
II 1(b), 1(g)): one owner's executions on one side of an instrument that, taken together over a
window, move the price in their direction while being a large share of what the market traded,
into the close or at any time of day.

Each order may be priced only a little beyond its reference when the reference follows the
price up (six buys each 30 bp over a reference that moves with them make 181 bp in all), so the
detector measures the cumulative move: with market data, the market's price from the last print
before the first execution to the last print now, and the group's share of the market's volume
over that span; without it, the last execution's price against the first order's reference.
A slicing algorithm that buys a small share of the volume, or buys as the market rises without
moving it, stays below the share; a single auction order is one execution, not a run of them.
With quotes on record, only executions that took liquidity count: a buy at or over the best
ask, a sell at or under the best bid, less `touch_tolerance_bps`. A market maker's resting bids
filled by sellers as the market drifts up follow the price; they do not push it.
Grouped by beneficial owner (accounts of one owner count as one); `details["grouping"]` says so.
"""

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal

from apps.surveillance.detectors.base import (
    DEDUP,
    Detector,
    Finding,
    Param,
    pop_older,
    prune_keys,
    score_of,
)
from apps.surveillance.stream import FILL

BP = Decimal(10000)
BEFORE = 0.000001  # a hair before the first execution: the price it found


class RampingDetector(Detector):
    name = "ramping"
    severity = "warning"
    params_spec = {
        "window_minutes": Param(
            int, 30, 1, "Executions of one side within this many minutes count together.", 480
        ),
        "min_executions": Param(int, 3, 2, "At least this many executions in the window."),
        "min_move_bps": Param(
            Decimal,
            "100",
            Decimal("1"),
            "The price moved at least this many basis points in the executions' direction.",
        ),
        "min_share_of_volume": Param(
            Decimal,
            "0.2",
            Decimal("0"),
            "With market data: the executions were at least this share of the market's volume.",
            Decimal("1"),
        ),
        "touch_tolerance_bps": Param(
            Decimal,
            "2",
            Decimal("0"),
            "With quotes: an execution counts only when it took liquidity, priced at the far "
            "side of the touch (a buy at the best ask, a sell at the best bid) or beyond it, "
            "give or take this many basis points; passive fills at the bid or offer do not.",
        ),
        "close_minutes": Param(
            int, 10, 1, "Executions this close to the session's close are 'into the close'.", 240
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (FILL,)

    def setup(self) -> None:
        self.window = self.params["window_minutes"] * 60.0
        self.min_executions = self.params["min_executions"]
        self.min_move = self.params["min_move_bps"]
        self.min_share = self.params["min_share_of_volume"]
        self.close_window = self.params["close_minutes"] * 60.0
        self.tolerance = self.params["touch_tolerance_bps"]
        # (owner, instrument, side) -> deque of (ts, quantity, price, reference, order, fill,
        # account)
        self.runs: dict[tuple, deque] = {}

    def horizon(self) -> float:
        return self.window

    def sweep(self, now: float) -> None:
        cutoff = now - self.window
        for run in self.runs.values():
            pop_older(run, cutoff)
        prune_keys(self.runs, cutoff, lambda run: run[-1][0] if run else float("-inf"))

    def feed_fill(self, ev) -> Finding | None:
        if ev.price is None or not ev.quantity or ev.side not in ("buy", "sell"):
            return None
        market = getattr(self.context, "market", None)
        if market is not None and self._passive(market, ev):
            return None
        key = (ev.owner, ev.instrument, ev.side)
        run = self.runs.setdefault(key, deque())
        pop_older(run, ev.ts - self.window)
        run.append(
            (ev.ts, ev.quantity, ev.price, ev.reference_price, ev.order_id, ev.fill_id, ev.account)
        )
        if len(run) < self.min_executions:
            return None
        first = run[0]
        quantity = sum(row[1] for row in run)
        move = share = volume = touch_distance = None
        if market is not None:
            start = first[0] - BEFORE
            move = market.price_move_bp(ev.instrument, start, ev.ts)
            if move is not None:
                volume = market.volume(ev.instrument, start, ev.ts)
                share = market.share_of_volume(ev.instrument, start, ev.ts, quantity)
                touch_distance = market.distance_from_touch_bp(
                    ev.instrument, ev.ts - BEFORE, ev.side, ev.price
                )
        measured = "market" if move is not None else "own executions"
        if move is None:
            base = first[3] or first[2]
            move = ((ev.price - base) / base * BP).quantize(Decimal("0.01"))
        directional = move if ev.side == "buy" else -move
        if directional < self.min_move:
            return None
        if share is not None and share < self.min_share:
            return None
        return self._finding(
            ev, run, quantity, directional, measured, share, volume, touch_distance
        )

    def _passive(self, market, ev) -> bool:
        """Filled inside the touch found just before it (a resting bid or offer hit by
        someone else): liquidity given, not taken. Unknown without quotes."""
        touch = market.touch(ev.instrument, ev.ts - BEFORE)
        if touch is None:
            return False
        bid, ask = touch
        if ev.side == "buy":
            return (ask - ev.price) / ask * BP > self.tolerance
        return (ev.price - bid) / bid * BP > self.tolerance

    def _finding(self, ev, run, quantity, move, measured, share, volume, touch_distance):
        first = run[0]
        close_after = getattr(self.context, "close_after", None)
        close = close_after(ev.instrument, ev.ts) if close_after else None
        into_close = close is not None and close - ev.ts <= self.close_window
        day = datetime.fromtimestamp(first[0], tz=UTC).date().isoformat()
        minutes = (ev.ts - first[0]) / 60
        share_text = f", {share * 100:.0f}% of the market's volume" if share is not None else ""
        where = " into the close" if into_close else ""
        score = move / (3 * self.min_move) + Decimal("0.3")
        if share is not None:
            score += share
        if into_close:
            score += Decimal("0.1")
        accounts = sorted({row[6] for row in run})
        details = {
            "grouping": "owner",
            "owner": ev.owner,
            "accounts": accounts,
            "side": ev.side,
            "executions": len(run),
            "quantity": str(quantity),
            "move_bps": str(move),
            "move_measured_on": measured,
            "first_price": str(first[2]),
            "last_price": str(ev.price),
            "minutes": round(minutes, 2),
            "into_close": into_close,
        }
        if share is not None:
            details["share_of_volume"] = str(share)
            details["market_volume"] = str(volume)
        if touch_distance is not None:
            details["last_distance_from_touch_bps"] = str(touch_distance)
        if close is not None:
            details["minutes_before_close"] = round((close - ev.ts) / 60, 2)
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.owner}:{ev.instrument}:{ev.side}:{day}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(score),
            title=(
                f"Ramping in {ev.instrument}{where}: {len(run)} {ev.side}s by {ev.owner} moved "
                f"the price {move:+} bp in {minutes:.1f} min{share_text}"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=first[0],
            window_end=ev.ts,
            orders=tuple(dict.fromkeys(row[4] for row in run if row[4] is not None)),
            fills=tuple(row[5] for row in run if row[5] is not None),
            details=details,
        )
