"""Marking the close (MAR Annex I 2(b)): orders or trades in the last minutes before the
venue's close, from its exchange calendar, priced away from the reference in the direction of
the trade (a buy above, a sell below), moving the closing price. Venues that never close (a
24/7 crypto calendar) have no close to mark."""

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
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, FILL)

    def setup(self) -> None:
        self.window = self.params["minutes_before_close"] * 60.0
        self.min_move = self.params["min_move_bps"]

    def horizon(self) -> float:
        return 0.0

    def _check(self, ev, what: str) -> Finding | None:
        price, reference = ev.price, ev.reference_price
        if price is None or not reference:
            return None
        move = (price - reference) / reference * BP
        if ev.side == "sell":
            move = -move
        if move < self.min_move:
            return None  # checked first: the calendar is only asked about aggressive prices
        closes = getattr(self.context, "close_after", None)
        close = closes(ev.instrument, ev.ts) if closes else None
        if close is None or close - ev.ts > self.window:
            return None
        shown = move.quantize(Decimal("0.1"))
        minutes = (close - ev.ts) / 60
        day = getattr(self.context, "session_label", lambda s, c: "")(ev.instrument, close)
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}:{day}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(move / (4 * self.min_move) + Decimal("0.25")),
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
            details={
                "price": str(price),
                "reference_price": str(reference),
                "move_bps": str(shown),
                "minutes_before_close": round(minutes, 2),
                "session": day,
            },
        )

    def feed_new(self, ev) -> Finding | None:
        return self._check(ev, "order")

    def feed_fill(self, ev) -> Finding | None:
        return self._check(ev, "trade")
