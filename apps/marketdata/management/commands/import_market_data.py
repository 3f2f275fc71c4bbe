"""Load the market's tape from a CSV file: trades and quotes, one per line (docs/surveillance.md).

Header (any order; a column may be left out when no row of its type needs it):
    type,instrument,time,venue,price,quantity,trade_id,condition,bid,bid_size,ask,ask_size
`type` is `trade` or `quote`; `time` is RFC 3339 with its offset. A trade fills price,
quantity and optionally trade_id and condition; a quote fills bid, bid_size, ask, ask_size.
The file is loaded whole or not at all: every bad line is named and nothing is stored.
"""

import csv
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.errors import PlatformError
from apps.marketdata.serializers import (
    MarketQuoteInputSerializer,
    MarketTradeInputSerializer,
    rows_validated,
)
from apps.marketdata.services import batch_limit, market_quotes_record, market_trades_record

COLUMNS = {
    "trade": ("instrument", "venue", "price", "quantity", "trade_id", "condition"),
    "quote": ("instrument", "venue", "bid", "bid_size", "ask", "ask_size"),
}
TIME_FIELD = {"trade": "executed_at", "quote": "quoted_at"}
KNOWN = {"type", "time", *COLUMNS["trade"], *COLUMNS["quote"]}
MAX_ERRORS = 50
_ROW_KEY = re.compile(r"^\w+\[(\d+)\]\.?(.*)$")


class Command(BaseCommand):
    help = "Import market trades and quotes from a CSV file (all lines or none)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            handle = file.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        with handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            unknown = sorted(set(header) - KNOWN)
            if not header or "type" not in header or "time" not in header:
                raise CommandError("line 1: the header needs at least the columns type and time.")
            if unknown:
                raise CommandError(f"line 1: unknown column(s): {', '.join(unknown)}.")
            items = {"trade": [], "quote": []}
            lines = {"trade": [], "quote": []}
            errors: list[str] = []
            for row in reader:
                line = reader.line_num
                kind = (row.get("type") or "").strip().lower()
                if kind not in COLUMNS:
                    errors.append(f"line {line}: type: must be trade or quote.")
                    continue
                item = {TIME_FIELD[kind]: (row.get("time") or "").strip()}
                for name in COLUMNS[kind]:
                    value = (row.get(name) or "").strip()
                    if value:
                        item[name] = value
                items[kind].append(item)
                lines[kind].append(line)
        rows = {}
        for kind, serializer in (
            ("trade", MarketTradeInputSerializer),
            ("quote", MarketQuoteInputSerializer),
        ):
            rows[kind], found = rows_validated(items[kind], serializer, lambda i: f"r[{i}]")
            errors += _named(found, lines[kind])
        if not items["trade"] and not items["quote"] and not errors:
            raise CommandError(f"{file} holds no trades or quotes.")
        if errors:
            raise CommandError(_report(errors))
        counts = {"trade": [0, 0], "quote": [0, 0]}
        with transaction.atomic():
            for kind in ("trade", "quote"):
                size = batch_limit()
                for start in range(0, len(rows[kind]), size):
                    chunk = rows[kind][start : start + size]
                    try:
                        result = _record(kind, chunk)
                    except PlatformError as exc:
                        named = _named(exc.details or {}, lines[kind][start:])
                        raise CommandError(_report(named or [exc.message])) from None
                    counts[kind][0] += result.recorded
                    counts[kind][1] += result.duplicates
        self.stdout.write(
            f"{counts['trade'][0]} trade(s) and {counts['quote'][0]} quote(s) recorded; "
            f"{counts['trade'][1]} trade(s) and {counts['quote'][1]} quote(s) already on record."
        )


def _record(kind: str, chunk: list[dict]):
    actor = "import_market_data"
    if kind == "trade":
        return market_trades_record(trades=chunk, actor=actor, source="import")
    return market_quotes_record(quotes=chunk, actor=actor, source="import")


def _named(details: dict, lines: list[int]) -> list[str]:
    """Errors keyed `x[index].field` as `line N: field: message`."""
    found = []
    for key, messages in details.items():
        match = _ROW_KEY.match(key)
        if match is None:
            found.append(f"{key}: {' '.join(str(m) for m in messages)}")
            continue
        index, name = int(match.group(1)), match.group(2)
        name = "time" if name in TIME_FIELD.values() else name
        found.append(f"line {lines[index]}: {name}: {' '.join(str(m) for m in messages)}")
    return sorted(found, key=_line_order)


def _line_order(text: str):
    match = re.match(r"line (\d+)", text)
    return (int(match.group(1)) if match else 0, text)


def _report(errors: list[str]) -> str:
    shown = errors[:MAX_ERRORS]
    more = len(errors) - len(shown)
    tail = f"\n... and {more} more" if more else ""
    return "Nothing imported:\n" + "\n".join(shown) + tail
