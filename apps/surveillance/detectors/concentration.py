"""Concentration: one instrument grown above its share of the account's portfolio (gross
market value). Positions come from the stream (each fill's resulting position) on top of the
book as it stood when the run began; prices are the latest fill price, else the reference.
A position is valued at quantity x price x the contract's multiplier, in the firm's currency
(the context's `value_factor`)."""

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
        # account -> its book; the size of the books, not of the history
        self.books: dict[str, _Book] = {}
        self.above: set[tuple[str, str]] = set()

    def horizon(self) -> float:
        return 0.0

    def _book(self, account: str) -> "_Book":
        book = self.books.get(account)
        if book is None:
            loader = getattr(self.context, "book", None)
            factor = getattr(self.context, "value_factor", None) or _one
            book = self.books[account] = _Book(loader(account) if loader else {}, factor)
        return book

    def feed_fill(self, ev) -> None:
        book = self._book(ev.account)
        row = book.rows.get(ev.instrument)
        book.set(ev.instrument, row[0] if row else ZERO, ev.price)

    def feed_position(self, ev) -> Finding | None:
        book = self._book(ev.account)
        row = book.rows.get(ev.instrument)
        book.set(ev.instrument, ev.quantity, row[1] if row else None)
        key = (ev.account, ev.instrument)
        total = book.total
        held = book.rows[ev.instrument][2]
        if book.count < self.min_positions or total <= 0 or total < self.floor:
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
                "positions": book.count,
            },
        )


def _one(symbol: str) -> Decimal:
    return Decimal(1)


class _Book:
    """An account's positions: instrument -> [quantity, price, gross value], with the total
    and the number of positions that have a value kept as rows change."""

    __slots__ = ("rows", "total", "count", "factor")

    def __init__(self, loaded: dict[str, list], factor=None):
        self.factor = factor or _one
        self.rows: dict[str, list] = {}
        self.total = ZERO
        self.count = 0
        for symbol, (quantity, price) in loaded.items():
            self.set(symbol, quantity, price)

    def set(self, symbol: str, quantity: Decimal, price: Decimal | None) -> None:
        row = self.rows.get(symbol)
        old = row[2] if row else ZERO
        new = ZERO
        if quantity and price is not None:
            new = abs(quantity * price) * self.factor(symbol)
        if row is None:
            self.rows[symbol] = [quantity, price, new]
        else:
            row[0], row[1], row[2] = quantity, price, new
        self.total += new - old
        self.count += (new > 0) - (old > 0)
