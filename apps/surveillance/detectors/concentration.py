"""Concentration: one instrument grown above its share of the account's portfolio (gross
market value). Positions come from the stream (each fill's resulting position) on top of the
book as it stood when the run began; prices are the latest fill price, else the reference."""

from decimal import Decimal

from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, score_of
from apps.surveillance.stream import FILL, POSITION

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class ConcentrationDetector(Detector):
    name = "concentration"
    severity = "warning"
    params_spec = {
        "max_pct": Param(
            Decimal,
            "25",
            Decimal("0.01"),
            "Largest share of the portfolio one instrument may hold, in percent.",
            Decimal(100),
        ),
        "min_portfolio_value": Param(
            Decimal,
            "0",
            Decimal(0),
            "Portfolios smaller than this (gross market value) are not judged.",
        ),
        "min_positions": Param(
            int,
            2,
            1,
            "Portfolios of fewer instruments are not judged (one instrument is always 100%).",
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (FILL, POSITION)

    def setup(self) -> None:
        self.max_pct = self.params["max_pct"]
        self.floor = self.params["min_portfolio_value"]
        self.min_positions = self.params["min_positions"]
        # account -> {instrument: [quantity, price]}; the size of the book, not of the history
        self.books: dict[str, dict[str, list]] = {}
        self.above: set[tuple[str, str]] = set()

    def horizon(self) -> float:
        return 0.0

    def _book(self, account: str) -> dict[str, list]:
        book = self.books.get(account)
        if book is None:
            loader = getattr(self.context, "book", None)
            book = self.books[account] = loader(account) if loader else {}
        return book

    def feed_fill(self, ev) -> None:
        book = self._book(ev.account)
        row = book.get(ev.instrument)
        if row is None:
            book[ev.instrument] = [ZERO, ev.price]
        else:
            row[1] = ev.price

    def feed_position(self, ev) -> Finding | None:
        book = self._book(ev.account)
        row = book.get(ev.instrument)
        if row is None:
            row = book[ev.instrument] = [ev.quantity, None]
        row[0] = ev.quantity
        key = (ev.account, ev.instrument)
        values = {s: abs(q * p) for s, (q, p) in book.items() if q and p is not None}
        total = sum(values.values(), ZERO)
        held = values.get(ev.instrument, ZERO)
        if len(values) < self.min_positions or total <= 0 or total < self.floor:
            self.above.discard(key)
            return None
        share = held / total * HUNDRED
        if share <= self.max_pct:
            self.above.discard(key)
            return None
        if key in self.above:
            return None
        self.above.add(key)
        shown = share.quantize(Decimal("0.01"))
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(share / HUNDRED),
            title=(
                f"Concentration: {ev.instrument} is {shown}% of {ev.account}'s portfolio "
                f"(limit {self.max_pct}%)"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=ev.ts,
            window_end=ev.ts,
            fills=(ev.fill_id,) if ev.fill_id else (),
            details={
                "share_pct": str(shown),
                "limit_pct": str(self.max_pct),
                "position_value": str(held.quantize(Decimal("0.01"))),
                "portfolio_value": str(total.quantize(Decimal("0.01"))),
                "positions": len(values),
            },
        )
