"""Positions as of a date: each account's net position per instrument at the end of that day.

Rebuilt from the fills up to the end of the date with the book's own average-cost rule
(`position_after_fill`), so that a past date is reported as it stood, not as the book stands
now. Fills stream ordered by account and instrument; one position is held at a time.

A market value is quantity x mark x the instrument's multiplier, in the instrument's currency;
the summary adds each account's up in its base currency, and the firm's in the firm's, at the
rates of the end of the date.
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import OuterRef, Subquery

from apps.core.types import quantize
from apps.reporting.builders.base import (
    CHUNK,
    FILLS_TO_PERIOD_END,
    PDF_LISTING,
    Chart,
    ReportBuilder,
    Summary,
    Table,
    converted_totals,
)
from apps.trading.models import (
    Account,
    DailyPrice,
    Fill,
    FillStatus,
    Instrument,
    ReferencePrice,
    signed_quantity,
)
from apps.trading.pricing import notional
from apps.trading.services import PositionState, position_after_fill

ZERO = Decimal("0")
FLAT = PositionState(ZERO, ZERO, ZERO)


class PositionsBuilder(ReportBuilder):
    report_type = "positions"
    title = "Positions report"
    description = "Net positions at the end of the as-of date (UTC), valued at the day's close."
    reads_fills = FILLS_TO_PERIOD_END
    pdf_contents = PDF_LISTING  # the PDF lists every position after the summary
    record_name = "positions"
    columns = [
        "as_of",
        "account",
        "symbol",
        "isin",
        "currency",
        "net_position",
        "average_price",
        "mark_price",
        "mark_source",
        "multiplier",
        "market_value",
    ]

    def listing_columns(self) -> list[str]:
        return [
            "Account",
            "Symbol",
            "ISIN",
            "Ccy",
            "Net position",
            "Average price",
            "Mark",
            "Mark source",
            "Mult.",
            "Market value",
        ]

    def listing_row(self, row: tuple) -> list:
        return list(row[1:])  # the as-of date is the report's

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._by_account = defaultdict(lambda: defaultdict(lambda: [0, ZERO, ZERO]))
        self._base_currency: dict[str, str] = {}

    def _marks(self) -> dict[int, tuple[Decimal | None, Decimal | None]]:
        """Per instrument: the last close on or before the date, the last reference price."""
        end = self.period.end_at
        closes = DailyPrice.objects.filter(
            instrument=OuterRef("pk"), date__lte=self.period.end
        ).order_by("-date")
        refs = ReferencePrice.objects.filter(instrument=OuterRef("pk"), as_of__lt=end).order_by(
            "-as_of"
        )
        rows = Instrument.objects.annotate(
            close=Subquery(closes.values("close")[:1]), ref=Subquery(refs.values("price")[:1])
        ).values_list("pk", "symbol", "isin", "currency", "close", "ref", "multiplier")
        return {
            pk: (symbol, isin, currency, close, ref, multiplier)
            for pk, symbol, isin, currency, close, ref, multiplier in rows
        }

    def fetch(self):
        accounts = {}
        for pk, code, base in Account.objects.values_list("pk", "code", "base_currency"):
            accounts[pk] = code
            self._base_currency[code] = base
        instruments = self._marks()
        fills = (
            Fill.objects.filter(status=FillStatus.ACTIVE, executed_at__lt=self.period.end_at)
            .order_by("order__account_id", "order__instrument_id", "executed_at", "id")
            .values_list(
                "order__account_id", "order__instrument_id", "order__side", "quantity", "price"
            )
        )
        key, state, last_price = None, FLAT, None
        for account_id, instrument_id, side, quantity, price in fills.iterator(chunk_size=CHUNK):
            if (account_id, instrument_id) != key:
                if key is not None and state.quantity:
                    yield self._row(key, state, last_price, accounts, instruments)
                key, state = (account_id, instrument_id), FLAT
            signed = signed_quantity(side, quantity)
            state = position_after_fill(state, signed, price, instruments[instrument_id][5])
            last_price = price
        if key is not None and state.quantity:
            yield self._row(key, state, last_price, accounts, instruments)

    def _row(self, key, state, last_price, accounts, instruments) -> tuple:
        account_id, instrument_id = key
        symbol, isin, currency, close, ref, multiplier = instruments[instrument_id]
        if close is not None:
            mark, source = close, "close"
        elif ref is not None:
            mark, source = ref, "reference"
        else:
            mark, source = last_price, "last_fill"
        return (
            self.period.end,
            accounts[account_id],
            symbol,
            isin,
            currency,
            state.quantity,
            state.average_cost,
            mark,
            source,
            multiplier,
            quantize(notional(state.quantity, mark, multiplier)),
        )

    def accumulate(self, row) -> None:
        account, currency, quantity, value = row[1], row[4], row[5], row[10]
        per = self._by_account[account][currency]
        per[0] += 1
        per[1 if quantity > 0 else 2] += value

    def summary(self) -> Summary:
        rows, net_by_currency = [], defaultdict(lambda: ZERO)
        for account in sorted(self._by_account):
            for currency, (count, long_value, short_value) in sorted(
                self._by_account[account].items()
            ):
                rows.append(
                    [account, currency, count, long_value, short_value, long_value + short_value]
                )
                net_by_currency[currency] += long_value + short_value
        totals = [("Positions", self.record_count), ("As of", self.period.end)]
        totals += [(f"Net market value {c}", v) for c, v in sorted(net_by_currency.items())]
        totals += converted_totals("Net market value", net_by_currency, at=self.period.end_at)
        table = Table(
            "By account",
            ["Account", "Currency", "Positions", "Long value", "Short value", "Net value"],
            rows,
        )
        in_base = []
        for account in sorted(self._by_account):
            base = self._base_currency.get(account, "")
            nets = {c: v[1] + v[2] for c, v in self._by_account[account].items()}
            found = dict(converted_totals("Net", nets, at=self.period.end_at, into=base))
            in_base.append(
                [
                    account,
                    base,
                    found[f"Net in {base}"],
                    found.get("Net not converted (no FX rate)", ""),
                ]
            )
        base_table = Table(
            "By account, in its base currency",
            ["Account", "Base currency", "Net value", "Not converted (no FX rate)"],
            in_base,
        )
        chart = Chart(
            "Gross market value by account",
            [f"{r[0]} {r[1]}" for r in rows],
            [r[3] - r[4] for r in rows],
        )
        return Summary(totals, [table, base_table], [chart])
