"""Best execution: per client category and class of instrument, the top five execution venues.

This is the firm's own monitoring of its execution quality (MiFID II art. 27(7)), not the RTS
28 publication: Commission Delegated Regulation (EU) 2017/576 (RTS 28) and the duty to publish
the top five venues each year (MiFID II art. 27(6)) were suspended by Directive (EU) 2021/338
and have since been withdrawn. The layout keeps what was useful in it: retail and professional
clients apart (their orders are executed under different terms), per class of instrument.

For each client category, class and currency (venues are ranked on amounts in their own
currency), the five venues with the largest traded value (quantity x price x multiplier), with
their share of the group's volume and orders, and the share of their orders that were passive
(a fill that added liquidity), aggressive (a fill that removed it) and directed (the client
chose the venue: the order's metadata has `"directed": true` or a `directed_venue`). The
summary adds each group's volume up in the firm's currency at the rates of the period's end.

Fills for accounts categorised as eligible counterparties are left out and counted in the
summary: best execution is not owed to them (MiFID II art. 30(1)).
"""

from collections import defaultdict
from decimal import Decimal

from apps.core.types import quantize
from apps.reporting.builders.base import (
    CHUNK,
    PDF_TABLES,
    Chart,
    ReportBuilder,
    Summary,
    Table,
    converted_totals,
    pct,
)
from apps.trading.models import ClientCategory, Fill, FillStatus
from apps.trading.pricing import notional

TOP = 5
ZERO = Decimal("0")
# The categories owed best execution, in the order the report shows them.
CATEGORIES = [ClientCategory.RETAIL, ClientCategory.PROFESSIONAL]
CATEGORY_LABELS = {
    ClientCategory.RETAIL: "Retail clients",
    ClientCategory.PROFESSIONAL: "Professional clients",
}


def is_directed(metadata) -> bool:
    if not isinstance(metadata, dict):
        return False
    return metadata.get("directed") is True or bool(metadata.get("directed_venue"))


class _Venue:
    __slots__ = ("value", "orders", "passive", "aggressive", "directed")

    def __init__(self) -> None:
        self.value = ZERO
        self.orders, self.passive, self.aggressive, self.directed = set(), set(), set(), set()


class BestExecutionBuilder(ReportBuilder):
    report_type = "best_execution"
    title = "Best execution: top five execution venues, retail and professional clients"
    description = (
        "The firm's monitoring of its order execution (MiFID II art. 27(7); not the withdrawn "
        "RTS 28 publication). For retail and for professional clients, per class of instrument "
        "and currency, the five venues with the largest traded value in the period, with their "
        "share of volume and orders and the share of their orders that were passive, aggressive "
        "and directed. Eligible counterparties are left out (art. 30(1)) and counted."
    )
    pdf_contents = PDF_TABLES  # every ranked venue is in its class's table
    record_name = "ranked venues"
    columns = [
        "client_category",
        "instrument_class",
        "currency",
        "rank",
        "venue",
        "volume",
        "volume_pct",
        "orders",
        "orders_pct",
        "passive_pct",
        "aggressive_pct",
        "directed_pct",
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._groups: dict[tuple[int, str, str], dict] = {}
        self._left_out = {"fills": 0, "orders": set(), "value": defaultdict(lambda: ZERO)}

    def _scan(self) -> dict:
        groups = defaultdict(
            lambda: {"value": ZERO, "orders": set(), "venues": defaultdict(_Venue)}
        )
        fills = Fill.objects.filter(
            status=FillStatus.ACTIVE,
            executed_at__gte=self.period.start_at,
            executed_at__lt=self.period.end_at,
        ).values_list(
            "order__account__client_category",
            "order__instrument__asset_class",
            "order__instrument__currency",
            "venue",
            "order_id",
            "quantity",
            "price",
            "liquidity",
            "order__metadata",
            "order__instrument__multiplier",
        )
        for (
            category,
            asset_class,
            currency,
            venue,
            order_id,
            quantity,
            price,
            liquidity,
            metadata,
            multiplier,
        ) in fills.iterator(chunk_size=CHUNK):
            value = quantize(notional(quantity, price, multiplier))
            if category == ClientCategory.ELIGIBLE_COUNTERPARTY:  # no best-execution duty
                self._left_out["fills"] += 1
                self._left_out["orders"].add(order_id)
                self._left_out["value"][currency] += value
                continue
            if category != ClientCategory.PROFESSIONAL:
                category = ClientCategory.RETAIL  # an unknown category gets retail's protection
            # keyed by the category's place, so that retail sorts before professional
            group = groups[(CATEGORIES.index(category), asset_class, currency)]
            group["value"] += value
            group["orders"].add(order_id)
            at = group["venues"][venue]
            at.value += value
            at.orders.add(order_id)
            (at.passive if liquidity == "added" else at.aggressive).add(order_id)
            if is_directed(metadata):
                at.directed.add(order_id)
        return groups

    def fetch(self):
        self._groups = self._scan()
        for (place, asset_class, currency), group in sorted(self._groups.items()):
            ranked = sorted(group["venues"].items(), key=lambda kv: (-kv[1].value, kv[0]))
            group["top"] = []
            for rank, (venue, at) in enumerate(ranked[:TOP], 1):
                orders = len(at.orders)
                row = (
                    CATEGORIES[place].value,
                    asset_class,
                    currency,
                    rank,
                    venue,
                    at.value,
                    pct(at.value, group["value"]),
                    orders,
                    pct(orders, len(group["orders"])),
                    pct(len(at.passive), orders),
                    pct(len(at.aggressive), orders),
                    pct(len(at.directed), orders),
                )
                group["top"].append(row)
                yield row

    def summary(self) -> Summary:
        totals: list[tuple[str, object]] = [
            ("Groups (client category, instrument class, currency)", len(self._groups))
        ]
        by_class: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
        for (place, asset_class, currency), group in self._groups.items():
            by_class[(place, asset_class)][currency] = group["value"]
        for place, asset_class in sorted(by_class):
            totals += converted_totals(
                f"Volume {CATEGORIES[place].value} {asset_class}",
                by_class[(place, asset_class)],
                at=self.period.end_at,
            )
        tables, charts = [], []
        for (place, asset_class, currency), group in sorted(self._groups.items()):
            category = CATEGORIES[place].value
            label = CATEGORY_LABELS[CATEGORIES[place]]
            totals.append((f"Volume {category} {asset_class} {currency}", group["value"]))
            totals.append((f"Orders {category} {asset_class} {currency}", len(group["orders"])))
            top = [list(row[3:]) for row in group.get("top", [])]
            tables.append(
                Table(
                    f"{label}, {asset_class} ({currency}): top five venues",
                    [
                        "Rank",
                        "Venue",
                        "Volume",
                        "% of volume",
                        "Orders",
                        "% of orders",
                        "% passive",
                        "% aggressive",
                        "% directed",
                    ],
                    top,
                )
            )
            charts.append(
                Chart(
                    f"{label}, {asset_class} ({currency}): % of volume by venue",
                    [r[1] for r in top],
                    [r[3] for r in top],
                    unit="%",
                )
            )
        left_out = self._left_out
        totals.append(
            ("Eligible counterparty fills left out (MiFID II art. 30(1))", left_out["fills"])
        )
        totals.append(("Eligible counterparty orders left out", len(left_out["orders"])))
        for currency, value in sorted(left_out["value"].items()):
            totals.append((f"Eligible counterparty volume left out {currency}", value))
        return Summary(totals, tables, charts[:3])
