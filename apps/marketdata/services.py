"""Recording the market's tape: batches of trades and quotes from the feed or an import.

Every batch is all or nothing: one bad row and nothing of it is stored (a 400 naming each bad
row). A print that carries a trade id is recorded once per venue: the same print sent again is
counted as a duplicate and stored nothing, the same id with other values is a 409. A quote is a
duplicate when its venue already has a quote for the instrument at the same instant with the
same values.

Market data is not a change of the firm's state, so it writes no event per row; each batch that
stores anything writes one `MARKET_DATA_RECORDED` audit event with its counts, in the same
transaction, so the trail says when the tape grew, by whom and by how much.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.errors import Conflict, ValidationFailed
from apps.core.time import rfc3339, utcnow
from apps.marketdata.models import MarketQuote, MarketTrade, TradeCondition
from apps.trading.models import Instrument
from apps.trading.services import FILL_FUTURE_SKEW
from apps.trading.venues import venue_problem

Problems = dict[int, dict[str, list[str]]]  # row index -> field -> messages
QUOTE_AMOUNTS = ("bid", "bid_size", "ask", "ask_size")


def batch_limit() -> int:
    return settings.MARKET_DATA_BATCH_MAX


def instruments_named(names) -> dict[str, Instrument]:
    """The instruments a batch names, by symbol or ISIN, in one query; unknown names absent."""
    names = {str(n) for n in names}
    isins = {n.upper() for n in names if len(n) == 12}
    rows = list(Instrument.objects.filter(Q(symbol__in=names) | Q(isin__in=isins)))
    by_symbol = {i.symbol: i for i in rows}
    by_isin = {i.isin: i for i in rows if i.isin}
    found = {}
    for name in names:
        instrument = by_symbol.get(name) or by_isin.get(name.upper())
        if instrument is not None:
            found[name] = instrument
    return found


def _add(problems: Problems, index: int, name: str, message: str) -> None:
    problems.setdefault(index, {}).setdefault(name, []).append(message)


def _common_problems(problems, index, row, at_field, now, instruments, amounts) -> None:
    if row["instrument"] not in instruments:
        _add(problems, index, "instrument", "Unknown instrument (give a symbol or an ISIN).")
    for name in amounts:  # the serializers check these too; the importer and the demo call here
        if not isinstance(row[name], Decimal) or not row[name].is_finite() or row[name] <= 0:
            _add(problems, index, name, "Must be a decimal number greater than zero.")
    at: datetime = row[at_field]
    if not isinstance(at, datetime) or at.tzinfo is None:
        _add(problems, index, at_field, "A time with its UTC offset.")
        return
    if at > now + FILL_FUTURE_SKEW:
        _add(
            problems,
            index,
            at_field,
            f"{rfc3339(at)} lies in the future (now {rfc3339(now)}; at most "
            f"{int(FILL_FUTURE_SKEW.total_seconds())}s of clock difference is allowed).",
        )
    problem = venue_problem(row["venue"], at.date())
    if problem is not None:
        _add(problems, index, "venue", problem)


def trade_problems(rows: list[dict], instruments: dict, now: datetime) -> Problems:
    """What is wrong with each print (already typed by its serializer), by row index."""
    problems: Problems = {}
    seen: dict[tuple, int] = {}
    for index, row in enumerate(rows):
        _common_problems(
            problems, index, row, "executed_at", now, instruments, ("price", "quantity")
        )
        if row.get("trade_id"):
            key = (row["venue"], row["trade_id"])
            first = seen.setdefault(key, index)
            if first != index and _trade_values(rows[first]) != _trade_values(row):
                _add(
                    problems,
                    index,
                    "trade_id",
                    f"Sent twice in this batch with other values (first at row {first}).",
                )
    return problems


def quote_problems(rows: list[dict], instruments: dict, now: datetime) -> Problems:
    problems: Problems = {}
    for index, row in enumerate(rows):
        _common_problems(problems, index, row, "quoted_at", now, instruments, QUOTE_AMOUNTS)
        if index in problems:
            continue
        if row["bid"] > row["ask"]:
            _add(
                problems,
                index,
                "ask",
                f"A crossed quote: the ask {row['ask']} is below the bid {row['bid']}.",
            )
    return problems


def _trade_values(row: dict) -> tuple:
    instrument = row["instrument"]
    symbol = instrument.symbol if isinstance(instrument, Instrument) else instrument
    return (
        symbol,
        row["executed_at"],
        Decimal(row["price"]).normalize(),
        Decimal(row["quantity"]).normalize(),
        row.get("condition") or TradeCondition.REGULAR,
    )


def _raise_problems(problems: Problems, kind: str) -> None:
    if problems:
        details = {
            f"{kind}[{index}].{name}": messages
            for index in sorted(problems)
            for name, messages in problems[index].items()
        }
        raise ValidationFailed(
            f"{len(problems)} of the {kind} are not valid; nothing was stored.", details=details
        )


@dataclass
class BatchResult:
    kind: str  # trades or quotes
    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    instruments: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
        }


def _check_size(rows: list, kind: str) -> None:
    if not rows:
        raise ValidationFailed(details={kind: ["Send at least one."]})
    if len(rows) > batch_limit():
        raise ValidationFailed(
            details={kind: [f"At most {batch_limit()} in one batch (MARKET_DATA_BATCH_MAX)."]}
        )


def _audit(result: BatchResult, rows: list[dict], at_field: str, actor, source: str) -> None:
    times = [row[at_field] for row in rows]
    audit_record(
        event_type=EventType.MARKET_DATA_RECORDED,
        actor=actor,
        object_type=f"marketdata.market{result.kind[:-1]}",
        payload={
            "kind": result.kind,
            "source": source,
            **result.as_dict(),
            "instruments": result.instruments,
            "from": min(times),
            "to": max(times),
        },
    )


@transaction.atomic
def market_trades_record(*, trades: list[dict], actor=None, source: str = "api") -> BatchResult:
    """Record a batch of the market's prints. Each row: instrument (symbol or ISIN, or the
    Instrument), executed_at (aware), price and quantity (> 0), venue (MIC), trade_id and
    condition (optional)."""
    _check_size(trades, "trades")
    now = utcnow()
    instruments = instruments_named(
        r["instrument"] for r in trades if not isinstance(r["instrument"], Instrument)
    )
    for row in trades:
        if isinstance(row["instrument"], Instrument):
            instruments[row["instrument"].symbol] = row["instrument"]
            row["instrument"] = row["instrument"].symbol
    _raise_problems(trade_problems(trades, instruments, now), "trades")

    ids = {(r["venue"], r["trade_id"]) for r in trades if r.get("trade_id")}
    existing = {}
    if ids:
        for stored in MarketTrade.objects.filter(
            venue__in={v for v, _ in ids}, trade_id__in={t for _, t in ids}
        ).select_related("instrument"):
            existing[(stored.venue, stored.trade_id)] = stored
    result = BatchResult("trades", received=len(trades))
    conflicts = {}
    new = []
    batch_ids = set()
    for index, row in enumerate(trades):
        key = (row["venue"], row.get("trade_id") or "")
        if key[1]:
            stored = existing.get(key)
            if stored is not None:
                stored_values = _trade_values(
                    {
                        "instrument": stored.instrument,
                        "executed_at": stored.executed_at,
                        "price": stored.price,
                        "quantity": stored.quantity,
                        "condition": stored.condition,
                    }
                )
                if stored_values != _trade_values(row):
                    conflicts[f"trades[{index}].trade_id"] = [
                        f"{key[1]} on {key[0]} is recorded already with other values "
                        f"(market trade {stored.pk})."
                    ]
                result.duplicates += 1
                continue
            if key in batch_ids:
                result.duplicates += 1
                continue
            batch_ids.add(key)
        new.append(
            MarketTrade(
                instrument=instruments[row["instrument"]],
                executed_at=row["executed_at"],
                price=row["price"],
                quantity=row["quantity"],
                venue=row["venue"],
                trade_id=row.get("trade_id") or "",
                condition=row.get("condition") or TradeCondition.REGULAR,
                received_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        )
    if conflicts:
        raise Conflict(
            "A trade id is recorded already with other values; nothing was stored.",
            code="market_trade_conflict",
            details=conflicts,
        )
    if new:
        try:
            with transaction.atomic():
                MarketTrade.objects.bulk_create(new, batch_size=1000)
        except IntegrityError:  # the same ids stored by a concurrent batch
            raise Conflict(
                "Another batch recorded some of these trade ids at the same time; send it again.",
                code="market_trade_conflict",
            ) from None
        result.recorded = len(new)
        result.instruments = sorted({t.instrument.symbol for t in new})
        _audit(result, trades, "executed_at", actor, source)
    return result


@transaction.atomic
def market_quotes_record(*, quotes: list[dict], actor=None, source: str = "api") -> BatchResult:
    """Record a batch of venues' best bids and offers. Each row: instrument, quoted_at, bid,
    bid_size, ask, ask_size (> 0, bid <= ask), venue (MIC)."""
    _check_size(quotes, "quotes")
    now = utcnow()
    instruments = instruments_named(
        r["instrument"] for r in quotes if not isinstance(r["instrument"], Instrument)
    )
    for row in quotes:
        if isinstance(row["instrument"], Instrument):
            instruments[row["instrument"].symbol] = row["instrument"]
            row["instrument"] = row["instrument"].symbol
    _raise_problems(quote_problems(quotes, instruments, now), "quotes")

    def values(instrument_id, venue, at, bid, bid_size, ask, ask_size):
        return (
            instrument_id,
            venue,
            at,
            *(Decimal(v).normalize() for v in (bid, bid_size, ask, ask_size)),
        )

    ids = {instruments[r["instrument"]].pk for r in quotes}
    times = [r["quoted_at"] for r in quotes]
    stored = {
        values(*row)
        for row in MarketQuote.objects.filter(
            instrument_id__in=ids, quoted_at__gte=min(times), quoted_at__lte=max(times)
        ).values_list("instrument_id", "venue", "quoted_at", "bid", "bid_size", "ask", "ask_size")
    }
    result = BatchResult("quotes", received=len(quotes))
    new = []
    for row in quotes:
        instrument = instruments[row["instrument"]]
        key = values(
            instrument.pk,
            row["venue"],
            row["quoted_at"],
            row["bid"],
            row["bid_size"],
            row["ask"],
            row["ask_size"],
        )
        if key in stored:
            result.duplicates += 1
            continue
        stored.add(key)
        new.append(
            MarketQuote(
                instrument=instrument,
                quoted_at=row["quoted_at"],
                bid=row["bid"],
                bid_size=row["bid_size"],
                ask=row["ask"],
                ask_size=row["ask_size"],
                venue=row["venue"],
                received_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        )
    if new:
        MarketQuote.objects.bulk_create(new, batch_size=1000)
        result.recorded = len(new)
        result.instruments = sorted({q.instrument.symbol for q in new})
        _audit(result, quotes, "quoted_at", actor, source)
    return result
