"""Daily trading: every fill of the period, with its order, instrument, venue and trader.

A fill's value is quantity x price x the instrument's multiplier, in the instrument's currency;
the summary totals each currency and adds them up in the firm's currency at the rates of the
period's end.
"""

from collections import defaultdict
from decimal import Decimal

from apps.core.types import decimal_str, quantize
from apps.reporting.builders.base import (
    CHUNK,
    PDF_LISTING,
    Chart,
    ReportBuilder,
    Summary,
    Table,
    converted_totals,
)
from apps.trading.models import SHORT_SIDES, Fill, FillStatus, is_sell
from apps.trading.pricing import notional

ZERO = Decimal("0")


class DailyTradingBuilder(ReportBuilder):
    report_type = "daily_trading"
    title = "Daily trading report"
    description = "Every fill executed in the period (UTC), in execution order."
    pdf_contents = PDF_LISTING  # the PDF lists every fill after the summary
    record_name = "fills"
    columns = [
        "trade_date",
        "trade_time",
        "account",
        "symbol",
        "isin",
        "side",
        "quantity",
        "price",
        "multiplier",
        "value",
        "commission",
        "currency",
        "venue",
        "liquidity",
        "order_id",
        "client_order_id",
        "exec_id",
        "trader",
    ]

    def listing_columns(self) -> list[str]:
        return [
            "Time (UTC)",
            "Account",
            "Symbol",
            "ISIN",
            "Side",
            "Quantity",
            "Price",
            "Mult.",
            "Value",
            "Comm.",
            "Ccy",
            "Venue",
            "Liquidity",
            "Order",
            "Client order id",
            "Exec id",
            "Trader",
        ]

    def listing_row(self, row: tuple) -> list:
        return list(row[1:])  # the trade date is in the time

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # per currency: [fills, value, commission]; per (symbol, currency): [fills, bought,
        # sold (short sales too), of which short, value, commission]; per venue: [fills, value
        # by currency]
        self._currency = defaultdict(lambda: [0, ZERO, ZERO])
        self._instrument = defaultdict(lambda: [0, ZERO, ZERO, ZERO, ZERO, ZERO])
        self._venue = defaultdict(lambda: [0, defaultdict(lambda: ZERO)])

    def fetch(self):
        fills = (
            Fill.objects.filter(
                status=FillStatus.ACTIVE,
                executed_at__gte=self.period.start_at,
                executed_at__lt=self.period.end_at,
            )
            .order_by("executed_at", "id")
            .values_list(
                "executed_at",
                "order__account__code",
                "order__instrument__symbol",
                "order__instrument__isin",
                "order__side",
                "quantity",
                "price",
                "commission",
                "order__instrument__currency",
                "venue",
                "liquidity",
                "order_id",
                "order__client_order_id",
                "exec_id",
                "order__submitted_by__username",
                "order__instrument__multiplier",
            )
        )
        # (executed_at, account, ..., price) + multiplier, value + (commission, ..., exec_id)
        # + trader
        for row in fills.iterator(chunk_size=CHUNK):
            quantity, price, multiplier = row[5], row[6], row[15]
            value = quantize(notional(quantity, price, multiplier))
            yield (row[0].date(), *row[:7], multiplier, value, *row[7:14], row[14] or "")

    def accumulate(self, row) -> None:
        symbol, side, quantity, value, commission, currency, venue = (
            row[3],
            row[5],
            row[6],
            row[9],
            row[10],
            row[11],
            row[12],
        )
        totals = self._currency[currency]
        totals[0] += 1
        totals[1] += value
        totals[2] += commission
        per = self._instrument[(symbol, currency)]
        per[0] += 1
        per[2 if is_sell(side) else 1] += quantity
        if side in SHORT_SIDES:
            per[3] += quantity
        per[4] += value
        per[5] += commission
        at_venue = self._venue[venue]
        at_venue[0] += 1
        at_venue[1][currency] += value

    def summary(self) -> Summary:
        totals = [("Fills", self.record_count)]
        for currency in sorted(self._currency):
            count, value, commission = self._currency[currency]
            totals.append((f"Traded value {currency}", value))
            totals.append((f"Commission {currency}", commission))
        traded = {c: v[1] for c, v in self._currency.items()}
        totals += converted_totals("Traded value", traded, at=self.period.end_at)
        by_instrument = Table(
            "By instrument",
            [
                "Instrument",
                "Currency",
                "Fills",
                "Bought",
                "Sold",
                "Sold short",
                "Value",
                "Commission",
            ],
            [
                [symbol, currency, *values]
                for (symbol, currency), values in sorted(self._instrument.items())
            ],
        )
        by_currency = Table(
            "By currency",
            ["Currency", "Fills", "Value", "Commission"],
            [[c, *self._currency[c]] for c in sorted(self._currency)],
        )
        venues = sorted(self._venue.items(), key=lambda kv: (-kv[1][0], kv[0]))
        by_venue = Table(
            "By venue",
            ["Venue", "Fills", "Value"],
            [
                [
                    venue,
                    count,
                    "; ".join(f"{decimal_str(v)} {c}" for c, v in sorted(values.items())),
                ]
                for venue, (count, values) in venues
            ],
        )
        chart = Chart("Fills by venue", [v for v, _ in venues], [c for _, (c, _) in venues])
        return Summary(totals, [by_currency, by_instrument, by_venue], [chart])
