"""Order routing (SEC Rule 606(a)(1)): per calendar quarter and section (S&P 500 stocks, other
NMS stocks, options), how the firm's held client orders split by order type and which venues
they went to.

Held orders are client orders: those of accounts traded for a client (capacity AOTC or MTCH,
never the firm's own DEAL book), received in the period, not directed by the client (the
order's metadata has no `"directed": true` and no `directed_venue`). An order counts at every
venue that filled it: the platform records where an order executed, not each route, so an
order that never filled has no venue and is left out (counted in the summary). Payment for
order flow is not recorded: its columns say `n/a` (docs/reporting.md says what a firm adds).
"""

from collections import defaultdict
from datetime import date

from django.conf import settings

from apps.reporting.builders.base import PDF_LISTING, ReportBuilder, Summary, Table, pct
from apps.reporting.builders.best_execution import is_directed
from apps.trading.models import (
    AssetClass,
    Fill,
    FillStatus,
    Order,
    OrderType,
    TradingCapacity,
    is_sell,
    is_us_equity,
)

SP500 = "S&P 500 stocks"
OTHER_NMS = "Other NMS stocks"
OPTIONS = "Options"
SECTIONS = (SP500, OTHER_NMS, OPTIONS)
MARKET, MARKETABLE, NON_MARKETABLE, OTHER = (
    "market",
    "marketable_limit",
    "non_marketable_limit",
    "other",
)
ORDER_TYPES = (MARKET, MARKETABLE, NON_MARKETABLE, OTHER)
NOT_AVAILABLE = "n/a"


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def section_of(*, symbol: str, asset_class: str, mic: str, currency: str, sp500) -> str | None:
    """The 606 section of an instrument, or None outside 606 (non-US shares, bonds, futures,
    crypto). An equity or ETF listed on a US venue or quoted in USD is an NMS stock; an option
    is a listed option; S&P 500 membership comes from settings.RULE_606_SP500_SYMBOLS."""
    if asset_class == AssetClass.OPTION:
        return OPTIONS
    if is_us_equity(asset_class=asset_class, mic=mic, currency=currency):
        return SP500 if symbol in sp500 else OTHER_NMS
    return None


def order_type_of(*, order_type: str, side: str, limit_price, reference_price) -> str:
    """Market; a limit order marketable when received (a buy at or above the reference price
    the gate saw, a sale at or below it: the platform's stand-in for the NBBO); otherwise
    non-marketable; a limit order without a reference price is `other`."""
    if order_type == OrderType.MARKET:
        return MARKET
    if limit_price is None or reference_price is None:
        return OTHER
    if is_sell(side):
        return MARKETABLE if limit_price <= reference_price else NON_MARKETABLE
    return MARKETABLE if limit_price >= reference_price else NON_MARKETABLE


class Rule606Builder(ReportBuilder):
    report_type = "rule_606"
    title = "Order routing report (SEC Rule 606(a)(1))"
    description = (
        "Held, non-directed client orders received in the period, per quarter and section: "
        "the split by order type and the venues they were routed to."
    )
    formats = ("csv", "json", "pdf")
    pdf_contents = PDF_LISTING  # the venue lines after the section table
    record_name = "venue lines"
    columns = [
        "quarter",
        "section",
        "orders",
        "market_pct",
        "marketable_limit_pct",
        "non_marketable_limit_pct",
        "other_pct",
        "venue",
        "venue_orders",
        "venue_non_directed_pct",
        "venue_market_pct",
        "venue_marketable_limit_pct",
        "venue_non_marketable_limit_pct",
        "venue_other_pct",
        "net_payment_market",
        "net_payment_marketable_limit",
        "net_payment_non_marketable_limit",
        "net_payment_other",
    ]

    def listing_columns(self) -> list[str]:
        return ["Quarter", "Section", "Venue", "Orders", "% of section", "% market",
                "% marketable limit", "% non-marketable limit", "% other"]  # fmt: skip

    def listing_row(self, row: tuple) -> list:
        return [row[0], row[1], *row[7:14]]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.unfilled = 0
        self.directed = 0
        self.outside = 0
        self._sections: dict[tuple[str, str], list] = {}

    def _orders(self) -> dict[int, dict]:
        """The period's held orders with the venues that filled them, one query."""
        rows = (
            Fill.objects.filter(
                status=FillStatus.ACTIVE,
                order__created_at__gte=self.period.start_at,
                order__created_at__lt=self.period.end_at,
            )
            .exclude(order__account__trading_capacity=TradingCapacity.DEAL)
            .values_list(
                "order_id",
                "order__created_at",
                "order__order_type",
                "order__side",
                "order__limit_price",
                "order__reference_price",
                "order__metadata",
                "order__instrument__symbol",
                "order__instrument__asset_class",
                "order__instrument__mic",
                "order__instrument__currency",
                "venue",
            )
            .order_by("order_id", "id")
        )
        orders: dict[int, dict] = {}
        for row in rows.iterator(chunk_size=5000):
            (order_id, created_at, order_type, side, limit_price, reference_price, metadata,
             symbol, asset_class, mic, currency, venue) = row  # fmt: skip
            order = orders.get(order_id)
            if order is None:
                order = orders[order_id] = {
                    "quarter": quarter_of(created_at.date()),
                    "type": order_type_of(
                        order_type=order_type,
                        side=side,
                        limit_price=limit_price,
                        reference_price=reference_price,
                    ),
                    "directed": is_directed(metadata),
                    "instrument": (symbol, asset_class, mic, currency),
                    "venues": set(),
                }
            order["venues"].add(venue)
        return orders

    def _unfilled_count(self, filled: int) -> int:
        received = (
            Order.objects.filter(
                created_at__gte=self.period.start_at, created_at__lt=self.period.end_at
            )
            .exclude(account__trading_capacity=TradingCapacity.DEAL)
            .count()
        )
        return received - filled

    def fetch(self):
        sp500 = set(settings.RULE_606_SP500_SYMBOLS)
        orders = self._orders()
        self.unfilled = self._unfilled_count(len(orders))
        # (quarter, section) -> [orders by type], venue -> [orders by type]
        by_section = defaultdict(lambda: dict.fromkeys(ORDER_TYPES, 0))
        by_venue = defaultdict(lambda: defaultdict(lambda: dict.fromkeys(ORDER_TYPES, 0)))
        for order in orders.values():
            symbol, asset_class, mic, currency = order["instrument"]
            section = section_of(
                symbol=symbol, asset_class=asset_class, mic=mic, currency=currency, sp500=sp500
            )
            if section is None:
                self.outside += 1
                continue
            if order["directed"]:
                self.directed += 1
                continue
            key = (order["quarter"], section)
            by_section[key][order["type"]] += 1
            for venue in order["venues"]:
                by_venue[key][venue][order["type"]] += 1
        for key in sorted(by_section, key=lambda k: (k[0], SECTIONS.index(k[1]))):
            counts = by_section[key]
            total = sum(counts.values())
            self._sections[key] = [total, *(counts[t] for t in ORDER_TYPES)]
            shares = [pct(counts[t], total) for t in ORDER_TYPES]
            venues = sorted(by_venue[key].items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
            for venue, at in venues:
                routed = sum(at.values())
                yield (
                    key[0],
                    key[1],
                    total,
                    *shares,
                    venue,
                    routed,
                    pct(routed, total),
                    *(pct(at[t], counts[t]) for t in ORDER_TYPES),
                    *([NOT_AVAILABLE] * 4),
                )

    def summary(self) -> Summary:
        totals = [
            ("Venue lines", self.record_count),
            ("Held orders counted", sum(v[0] for v in self._sections.values())),
            ("Directed orders left out", self.directed),
            ("Orders outside Rule 606 left out", self.outside),
            ("Held orders without a fill (no venue) left out", self.unfilled),
            ("Payment for order flow", "not recorded (n/a)"),
        ]
        table = Table(
            "Orders by section",
            [
                "Quarter",
                "Section",
                "Orders",
                "Market",
                "Marketable limit",
                "Non-marketable limit",
                "Other",
            ],  # fmt: skip
            [[q, s, *values] for (q, s), values in self._sections.items()],
        )
        return Summary(totals, [table], [])
