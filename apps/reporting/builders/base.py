"""What every report builder shares: the period, the streaming contract, cell formatting.

A builder streams its rows (`rows()`) from the database in chunks and accumulates its summary
as the rows pass, so that one pass serves every format: CSV and JSON write each row as it comes,
PDF reads the summary afterwards. No builder holds the period's rows in memory.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings

from apps.core.time import rfc3339
from apps.core.types import decimal_str, quantize
from apps.trading.selectors import fx_table

CHUNK = 5000  # rows fetched per database round trip
# Which fills a report is built from, so that a fill booked after it was built marks it for a
# re-run (apps.reporting.services.report_mark_for_rerun).
FILLS_IN_PERIOD = "in_period"  # the fills executed in the period
FILLS_TO_PERIOD_END = "to_period_end"  # every fill up to the period's end (positions)
NO_FILLS = ""
# What a report's PDF holds beside its totals and charts (its title page says which):
PDF_LISTING = "listing"  # every row, in a listing table after the summary tables
PDF_TABLES = "tables"  # every row, in the summary tables (the rows are the summary)
PDF_SUMMARY = "summary"  # totals and tables only; the rows are in the other formats


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def label(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start} to {self.end}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


# Formatting by exact type: one dict lookup per cell (reports format millions of cells).
_TEXT = {
    str: str,
    type(None): lambda _v: "",
    Decimal: decimal_str,
    datetime: rfc3339,
    date: date.isoformat,
    int: str,
    bool: _bool,
}


def cell(value) -> str:
    """A value as report text: plain decimals, RFC 3339 UTC times, empty for None."""
    text = _TEXT.get(type(value))
    return text(value) if text is not None else str(value)


_JSON_NATIVE = frozenset({type(None), bool, int, str})


def json_cell(value):
    """A value for JSON: amounts and times as strings (never floats), ints and bools as they are."""
    return value if type(value) in _JSON_NATIVE else cell(value)


def pct(part, whole) -> Decimal:
    """part / whole in per cent, two places (0 when whole is 0)."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


def converted_totals(
    label: str, by_currency: dict[str, Decimal], *, at: datetime, into: str | None = None
) -> list[tuple[str, object]]:
    """Amounts kept in their own currencies, added up in one (the firm's by default) at the
    latest FX rate as of `at` (the end of the report's period): "<label> in USD" and, when a
    currency has no rate at all, "<label> not converted (no FX rate)" naming it (that total
    then leaves it out)."""
    into = into or settings.FIRM_CURRENCY
    fx = fx_table(currencies=[*by_currency, into], at=at, max_age_seconds=None)
    total, missing = Decimal(0), []
    for currency, amount in sorted(by_currency.items()):
        rate = fx.factor(currency, into)
        if rate is None:
            missing.append(currency)
        else:
            total += amount * rate
    out: list[tuple[str, object]] = [(f"{label} in {into}", quantize(total))]
    if missing:
        out.append((f"{label} not converted (no FX rate)", ", ".join(missing)))
    return out


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list]


@dataclass
class Chart:
    title: str
    labels: list[str]
    values: list[Decimal]
    unit: str = ""


@dataclass
class Summary:
    """What a PDF shows and a JSON file carries beside its rows: headline totals, tables, charts."""

    totals: list[tuple[str, object]]
    tables: list[Table]
    charts: list[Chart]

    def as_dict(self) -> dict:
        return {
            "totals": {name: json_cell(value) for name, value in self.totals},
            "tables": [
                {
                    "title": t.title,
                    "columns": t.columns,
                    "rows": [[json_cell(v) for v in row] for row in t.rows],
                }
                for t in self.tables
            ],
        }


class ReportBuilder:
    """Base of the five report builders."""

    report_type: str = ""
    title: str = ""
    description: str = ""
    columns: list[str] = []
    formats: tuple[str, ...] = ("csv", "json", "pdf")
    reads_fills: str = FILLS_IN_PERIOD
    pdf_contents: str = PDF_SUMMARY
    record_name: str = "records"  # what one row is, in the plural ("fills", "positions")

    def __init__(self, *, period: Period, entity=None, generated_at: datetime, **options) -> None:
        self.period = period
        self.entity = entity
        self.generated_at = generated_at
        self.options = options
        self.record_count = 0

    def rows(self) -> Iterator[tuple]:
        """The report's rows, streamed; counts them in record_count as they pass."""
        for row in self.fetch():
            self.record_count += 1
            self.accumulate(row)
            yield row

    def fetch(self) -> Iterator[tuple]:
        raise NotImplementedError

    def accumulate(self, row: tuple) -> None:
        """Add one row to the running summary."""

    def summary(self) -> Summary:
        """The summary of the rows streamed so far (call after consuming rows())."""
        raise NotImplementedError

    def listing_columns(self) -> list[str]:
        """The column headings of the PDF's listing (PDF_LISTING)."""
        return self.columns

    def listing_row(self, row: tuple) -> list:
        """One row as the PDF's listing shows it."""
        return list(row)

    def consume(self) -> None:
        """Stream every row without writing it (the PDF needs only the summary)."""
        for _row in self.rows():
            pass
