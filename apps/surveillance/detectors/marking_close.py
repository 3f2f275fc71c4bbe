"""Marking the close (MAR Annex I 2(b)): orders or trades in the last minutes before the
venue's close, from its exchange calendar, priced away from the reference in the direction of
the trade (a buy above, a sell below), moving the closing price. Venues that never close (a
24/7 crypto calendar) have no close to mark.

With market data for the instrument, the account's quantity on that side in the closing window
(this order or trade included) must also be a material share of the market's volume in the
window so far: a market-on-close order that takes the auction price beside a large auction is a
price taker, not a marker. The finding then carries that share, the market's move over the
window and the closing price."""

from datetime import UTC, datetime
from decimal import Decimal

from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, score_of
from apps.surveillance.stream import FILL, NEW

BP = Decimal(10000)


class MarkingCloseDetector(Detector):
    name = "marking_close"
    severity = "warning"
    params_spec = {
        "minutes_before_close": Param(int, 10, 1, "The closing window, in minutes.", 240),
        "min_move_bps": Param(
            Decimal,
            "50",
            Decimal("0.01"),
            "Priced at least this many basis "
            "points beyond the reference, in the trade's direction.",
        ),
        "min_share_of_volume": Param(
            Decimal,
            "0.2",
            Decimal("0"),
            "With market data: the account's quantity in the closing window is at least this "
            "share of the market's volume there.",
            Decimal("1"),
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, FILL)

    def setup(self) -> None:
        self.window = self.params["minutes_before_close"] * 60.0
        self.min_move = self.params["min_move_bps"]
        self.min_share = self.params["min_share_of_volume"]
        # (account, instrument, side, close) -> quantity filled in the closing window so far
        self.filled: dict[tuple, Decimal] = {}

    def horizon(self) -> float:
        return self.window if getattr(self.context, "market", None) is not None else 0.0

    def sweep(self, now: float) -> None:
        for key in [k for k in self.filled if k[3] < now - self.window]:
            del self.filled[key]

    def _check(self, ev, what: str) -> Finding | None:
        price, reference = ev.price, ev.reference_price
        closes = getattr(self.context, "close_after", None)
        market = getattr(self.context, "market", None)
        if market is not None and what == "trade" and price is not None and closes is not None:
            close = closes(ev.instrument, ev.ts)
            if close is not None and close - ev.ts <= self.window:
                key = (ev.account, ev.instrument, ev.side, close)
                self.filled[key] = self.filled.get(key, Decimal(0)) + (ev.quantity or 0)
        if price is None or not reference:
            return None
        move = (price - reference) / reference * BP
        if ev.side == "sell":
            move = -move
        if move < self.min_move:
            return None  # checked first: the calendar is only asked about aggressive prices
        close = closes(ev.instrument, ev.ts) if closes else None
        if close is None or close - ev.ts > self.window:
            return None
        shown = move.quantize(Decimal("0.1"))
        minutes = (close - ev.ts) / 60
        day = getattr(self.context, "session_label", lambda s, c: "")(ev.instrument, close)
        details = {
            "grouping": "account",
            "price": str(price),
            "reference_price": str(reference),
            "move_bps": str(shown),
            "minutes_before_close": round(minutes, 2),
            "session": day,
        }
        score = move / (4 * self.min_move) + Decimal("0.25")
        if market is not None:
            share = self._market_evidence(ev, what, close, day, details)
            if share is not None:
                if share < self.min_share:
                    return None
                score += share / 2
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}:{day}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(score),
            title=(
                f"Marking the close in {ev.instrument}: {what} {ev.side} at {price}, {shown} bp "
                f"beyond the reference {reference}, {minutes:.1f} min before the close"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=close - self.window,
            window_end=close,
            orders=(ev.order_id,),
            fills=(ev.fill_id,) if ev.fill_id else (),
            details=details,
        )

    def _market_evidence(self, ev, what, close, day, details) -> Decimal | None:
        """The account's share of the market's volume in the closing window so far (None
        without prints there), and the market's figures into `details`."""
        market = self.context.market
        start = close - self.window
        filled = self.filled.get((ev.account, ev.instrument, ev.side, close), Decimal(0))
        quantity = filled if what == "trade" else filled + (ev.quantity or 0)
        share = market.share_of_volume(ev.instrument, start, ev.ts, quantity)
        if share is None:
            return None
        details["share_of_volume"] = str(share)
        details["market_volume"] = str(market.volume(ev.instrument, start, ev.ts))
        move = market.price_move_bp(ev.instrument, start, ev.ts)
        if move is not None:
            details["market_move_bps"] = str(move)
        label = day or datetime.fromtimestamp(close, tz=UTC).date().isoformat()
        closing = market.closing_price(ev.instrument, label)
        if closing is not None:  # the auction print once on record, else the day's last print
            details["closing_price"] = str(closing)
        return share

    def feed_new(self, ev) -> Finding | None:
        return self._check(ev, "order")

    def feed_fill(self, ev) -> Finding | None:
        return self._check(ev, "trade")
