"""The purchase and sales blotter (SEC Rule 17a-3(a)(1)): every purchase and sale of the period.

One row per active fill executed in the period (UTC days, in execution order): a busted fill is
left out, a corrected one shows its corrected quantity and price (its version says it was
corrected). The settlement date counts the instrument's calendar business days after the trade
date: one for US instruments (T+1 since 28 May 2024), two elsewhere (`SETTLEMENT_CYCLE`).
Gross is quantity x price x multiplier; net adds the commission to a purchase (what is paid)
and takes it off a sale (what is received).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from apps.core.calendars import business_day_after, calendar_code
from apps.core.types import quantize
from apps.reporting.builders.base import (
    CHUNK,
    PDF_LISTING,
    ReportBuilder,
    Summary,
    Table,
    converted_totals,
)
from apps.trading.models import (
    US_EQUITY_MICS,
    Fill,
    FillStatus,
    Side,
    TradingCapacity,
    side_direction,
)
from apps.trading.pricing import notional

ZERO = Decimal("0")
# 17a-3 capacity words for the account's (or the order's) MiFIR trading capacity.
CAPACITY = {
    TradingCapacity.DEAL: "principal",
    TradingCapacity.AOTC: "agency",
    TradingCapacity.MTCH: "riskless_principal",
}
SHORT_MARKING = {
    Side.BUY: "",
    Side.SELL: "long",
    Side.SELL_SHORT: "short",
    Side.SELL_SHORT_EXEMPT: "short_exempt",
}
# Business days from trade to settlement: T+1 in the US (SEC Rule 15c6-1 as amended, from
# 28 May 2024), T+2 on the other markets the platform knows (EU and UK cash equities).
SETTLEMENT_CYCLE = {"US": 1, "other": 2}
# Where an instrument's calendar is unknown, US trades settle on the NYSE's business days.
US_SETTLEMENT_CALENDAR = "XNYS"


def order_capacity(metadata, account_capacity: str) -> str:
    """The order's `metadata.trading_capacity` when it names one, else the account's."""
    chosen = metadata.get("trading_capacity") if isinstance(metadata, dict) else None
    return chosen if chosen in CAPACITY else account_capacity


class BlotterBuilder(ReportBuilder):
    report_type = "blotter"
    title = "Purchase and sales blotter (SEC 17a-3(a)(1))"
    description = "Every purchase and sale executed in the period (UTC), in execution order."
    formats = ("csv", "json", "pdf")
    pdf_contents = PDF_LISTING
    record_name = "purchases and sales"
    columns = [
        "trade_date",
        "trade_time",
        "settlement_date",
        "account",
        "account_name",
        "symbol",
        "isin",
        "buy_sell",
        "short_marking",
        "quantity",
        "price",
        "multiplier",
        "currency",
        "gross_amount",
        "commission",
        "net_amount",
        "capacity",
        "venue",
        "counterparty_lei",
        "order_id",
        "client_order_id",
        "exec_id",
        "fill_version",
        "corrected",
    ]

    def listing_columns(self) -> list[str]:
        return [
            "Time (UTC)",
            "Settles",
            "Account",
            "Symbol",
            "B/S",
            "Short",
            "Quantity",
            "Price",
            "Ccy",
            "Gross",
            "Comm.",
            "Net",
            "Capacity",
            "Venue",
            "Counterparty",
            "Exec id",
            "Ver.",
        ]

    def listing_row(self, row: tuple) -> list:
        # time, settles, account, symbol, b/s .. price, currency .. counterparty, exec id, version
        return [*row[1:4], row[5], *row[7:11], *row[12:19], row[21], row[22]]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._settles: dict[tuple[str, date, int], date | None] = {}
        # per currency: [purchases, sales, bought gross, sold gross, commission]
        self._currency = defaultdict(lambda: [0, 0, ZERO, ZERO, ZERO])
        # per (account, capacity): [purchases, sales, short sales]
        self._account = defaultdict(lambda: [0, 0, 0])

    def settlement_date(self, *, calendar: str, mic: str, currency: str, day: date) -> date | None:
        us = mic in US_EQUITY_MICS or currency == "USD"
        days = SETTLEMENT_CYCLE["US" if us else "other"]
        code = calendar_code(calendar, mic)
        key = (code, day, days)
        if key not in self._settles:
            settles = business_day_after(code, day, days)
            if settles is None and us:
                settles = business_day_after(US_SETTLEMENT_CALENDAR, day, days)
            self._settles[key] = settles
        return self._settles[key]

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
                "order__account__name",
                "order__account__trading_capacity",
                "order__instrument__symbol",
                "order__instrument__isin",
                "order__instrument__mic",
                "order__instrument__calendar",
                "order__instrument__currency",
                "order__instrument__multiplier",
                "order__side",
                "order__metadata",
                "quantity",
                "price",
                "commission",
                "venue",
                "counterparty_lei",
                "order_id",
                "order__client_order_id",
                "exec_id",
                "version",
            )
        )
        for (
            executed_at,
            account,
            account_name,
            account_capacity,
            symbol,
            isin,
            mic,
            calendar,
            currency,
            multiplier,
            side,
            metadata,
            quantity,
            price,
            commission,
            venue,
            counterparty,
            order_id,
            client_order_id,
            exec_id,
            version,
        ) in fills.iterator(chunk_size=CHUNK):
            day = executed_at.date()
            gross = quantize(notional(quantity, price, multiplier))
            direction = side_direction(side)
            net = gross + commission if direction == Side.BUY else gross - commission
            yield (
                day,
                executed_at,
                self.settlement_date(calendar=calendar, mic=mic, currency=currency, day=day),
                account,
                account_name,
                symbol,
                isin,
                direction,
                SHORT_MARKING.get(side, ""),
                quantity,
                price,
                multiplier,
                currency,
                gross,
                commission,
                quantize(net),
                CAPACITY[order_capacity(metadata, account_capacity)],
                venue,
                counterparty,
                order_id,
                client_order_id,
                exec_id,
                version,
                version > 1,
            )

    def accumulate(self, row) -> None:
        account, direction, marking, currency, gross, commission, capacity = (
            row[3],
            row[7],
            row[8],
            row[12],
            row[13],
            row[14],
            row[16],
        )
        totals = self._currency[currency]
        per = self._account[(account, capacity)]
        if direction == Side.BUY:
            totals[0] += 1
            totals[2] += gross
            per[0] += 1
        else:
            totals[1] += 1
            totals[3] += gross
            per[1] += 1
            if marking in ("short", "short_exempt"):
                per[2] += 1
        totals[4] += commission

    def summary(self) -> Summary:
        purchases = sum(v[0] for v in self._currency.values())
        sales = sum(v[1] for v in self._currency.values())
        totals: list[tuple[str, object]] = [
            ("Purchases and sales", self.record_count),
            ("Purchases", purchases),
            ("Sales", sales),
        ]
        for currency in sorted(self._currency):
            _p, _s, bought, sold, commission = self._currency[currency]
            totals.append((f"Bought (gross) {currency}", bought))
            totals.append((f"Sold (gross) {currency}", sold))
            totals.append((f"Commission {currency}", commission))
        gross = {c: v[2] + v[3] for c, v in self._currency.items()}
        totals += converted_totals("Gross traded", gross, at=self.period.end_at)
        by_currency = Table(
            "By currency",
            ["Currency", "Purchases", "Sales", "Bought (gross)", "Sold (gross)", "Commission"],
            [[c, *self._currency[c]] for c in sorted(self._currency)],
        )
        by_account = Table(
            "By account",
            ["Account", "Capacity", "Purchases", "Sales", "Of which short"],
            [[a, cap, *v] for (a, cap), v in sorted(self._account.items())],
        )
        return Summary(totals, [by_currency, by_account], [])
