"""Best execution (RTS 28 style): per class of instrument, the top five venues by volume.

For each class, and each currency (venues are ranked on amounts in their own currency), the five
venues with the largest traded value (quantity x price x multiplier), with their share of the
class's volume and orders, and the share of their orders that were passive (a fill that added
liquidity), aggressive (a fill that removed it) and directed (the client chose the venue: the
order's metadata has `"directed": true` or a `directed_venue`). The summary adds each class's
volume up in the firm's currency at the rates of the period's end.
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
from apps.trading.models import Fill
from apps.trading.pricing import notional

TOP = 5
ZERO = Decimal("0")


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
    title = "Best execution: top five venues (RTS 28)"
    description = (
        "Per class of instrument and currency, the five venues with the largest traded value in "
        "the period, with their share of volume and orders and the share of their orders that "
        "were passive, aggressive and directed."
    )
    pdf_contents = PDF_TABLES  # every ranked venue is in its class's table
    record_name = "ranked venues"
    columns = [
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
        self._classes: dict[tuple[str, str], dict] = {}

    def _scan(self) -> dict:
        classes = defaultdict(
            lambda: {"value": ZERO, "orders": set(), "venues": defaultdict(_Venue)}
        )
        fills = Fill.objects.filter(
            executed_at__gte=self.period.start_at, executed_at__lt=self.period.end_at
        ).values_list(
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
            group = classes[(asset_class, currency)]
            group["value"] += value
            group["orders"].add(order_id)
            at = group["venues"][venue]
            at.value += value
            at.orders.add(order_id)
            (at.passive if liquidity == "added" else at.aggressive).add(order_id)
            if is_directed(metadata):
                at.directed.add(order_id)
        return classes

    def fetch(self):
        self._classes = self._scan()
        for (asset_class, currency), group in sorted(self._classes.items()):
            ranked = sorted(group["venues"].items(), key=lambda kv: (-kv[1].value, kv[0]))
            group["top"] = []
            for rank, (venue, at) in enumerate(ranked[:TOP], 1):
                orders = len(at.orders)
                row = (
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
        totals = [("Instrument classes", len(self._classes))]
        by_class: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for (asset_class, currency), group in self._classes.items():
            by_class[asset_class][currency] = group["value"]
        for asset_class in sorted(by_class):
            totals += converted_totals(
                f"Volume {asset_class}", by_class[asset_class], at=self.period.end_at
            )
        tables, charts = [], []
        for (asset_class, currency), group in sorted(self._classes.items()):
            totals.append((f"Volume {asset_class} {currency}", group["value"]))
            totals.append((f"Orders {asset_class} {currency}", len(group["orders"])))
            top = [list(row[2:]) for row in group.get("top", [])]
            tables.append(
                Table(
                    f"{asset_class} ({currency}): top five venues",
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
                    f"{asset_class} ({currency}): % of volume by venue",
                    [r[1] for r in top],
                    [r[3] for r in top],
                    unit="%",
                )
            )
        return Summary(totals, tables, charts[:3])
