"""Running the detectors over the database's event stream: incrementally past a watermark (the
beat job and `run_surveillance`), or over a date range (`replay_surveillance`).

An incremental run reads the events after the watermark, plus the events just before it that
the detectors' windows still cover (so a pattern that spans two runs is still seen whole), and
reports only patterns completed by the new events. The detectors run with no lock held; the
watermark then moves with a compare-and-set in the transaction that stores the alerts, so of two
overlapping runs one stores its alerts and the other stores nothing.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.sequencer import audit_sequence
from apps.core.calendars import calendar_code, closes_around
from apps.core.time import utcnow
from apps.marketdata.context import market_from_database
from apps.rules.models import RestrictedListEntry, WatchListEntry
from apps.surveillance.detectors.base import Finding
from apps.surveillance.engine import Engine
from apps.surveillance.models import Alert, RelatedParty, SurveillanceCursor
from apps.surveillance.services import alerts_record, detector_configs_ensure
from apps.surveillance.stream import FILL, STREAM_EVENT_TYPES, event_from_record
from apps.trading.models import (
    Account,
    BeneficialOwner,
    CatAccountHolderType,
    Fill,
    FillStatus,
    Instrument,
    Position,
    TradingCapacity,
)
from apps.trading.selectors import fx_table, latest_price_subquery

logger = logging.getLogger(__name__)

CURSOR = "incremental"
BATCH_EVENTS = 20000  # sequence numbers per transaction
READ_CHUNK = 2000


# --- what the detectors may ask of the database -----------------------------------------------


class StreamContext:
    """Reference data the detectors need: calendars by symbol, books as the run began, and the
    market's tape."""

    def __init__(
        self,
        calendars: dict[str, str],
        book_loader=None,
        value_factors=None,
        account_kinds=None,
        issuers=None,
        additions_loader=None,
        market_makers=None,
        related_owners=None,
        market=None,
    ):
        self.calendars = calendars
        # account code -> client, proprietary, staff or market_maker (front running, matched
        # orders and insider dealing read it); symbol -> issuer
        self.account_kinds: dict[str, str] = account_kinds or {}
        self.issuers: dict[str, str] = issuers or {}
        self.additions_loader = additions_loader
        self._additions: tuple = (None, ())
        self._additions_read = float("-inf")
        # the market's tape (apps.marketdata.context): None when no market data is recorded
        self.market = market
        self.book_loader = book_loader
        # symbol -> what one unit of price x quantity is worth in the firm's currency: the
        # contract's multiplier times the latest FX rate (one for one when no rate was ever
        # recorded for the currency)
        self.value_factors: dict[str, Decimal] = value_factors or {}
        # accounts flagged as market makers (Account.is_market_maker): their two-sided quoting
        # lowers the layering and spoofing scores
        self.market_makers: set[str] = set(market_makers or ())
        # owner -> the related parties it belongs to (RelatedParty), for wash trades; an owner
        # not in it stands alone
        self.related_owners: dict[str, str] = dict(related_owners or {})

    @classmethod
    def from_database(cls) -> "StreamContext":
        rows = list(
            Instrument.objects.values_list("symbol", "calendar", "mic", "multiplier", "currency")
        )
        calendars = {symbol: calendar_code(calendar, mic) for symbol, calendar, mic, *_ in rows}
        fx = fx_table(currencies={row[4] for row in rows}, at=utcnow(), max_age_seconds=None)
        factors = {
            symbol: multiplier * (fx.factor(currency, settings.FIRM_CURRENCY) or Decimal(1))
            for symbol, _calendar, _mic, multiplier, currency in rows
        }
        kinds = {
            code: account_kind(market_maker, holder_type, capacity)
            for code, market_maker, holder_type, capacity in Account.objects.values_list(
                "code", "is_market_maker", "cat_account_holder_type", "trading_capacity"
            )
        }
        issuers = dict(Instrument.objects.exclude(issuer="").values_list("symbol", "issuer"))
        return cls(
            calendars,
            book_loader=_book_from_database,
            value_factors=factors,
            account_kinds=kinds,
            issuers=issuers,
            additions_loader=_list_additions_from_database,
            market=market_from_database(),
        )

    def account_kind(self, code: str) -> str:
        return self.account_kinds.get(code, "")

    def symbols_of_issuer(self, issuer: str) -> list[str]:
        wanted = issuer.strip().casefold()
        return [s for s, i in self.issuers.items() if i.strip().casefold() == wanted]

    def list_additions(self) -> tuple:
        """(version, additions): every restricted-list and watch-list addition as (time, list,
        entry id, instrument symbol or "", issuer, reason). Read again at most every
        ADDITIONS_REFRESH_SECONDS of wall-clock time, so a long-lived engine sees new entries."""
        if self.additions_loader is None:
            return self._additions
        now = time.monotonic()
        if now - self._additions_read >= ADDITIONS_REFRESH_SECONDS:
            self._additions_read = now
            additions = tuple(self.additions_loader())
            if additions != self._additions[1]:
                self._additions = (now, additions)
        return self._additions

    def value_factor(self, symbol: str) -> Decimal:
        return self.value_factors.get(symbol, Decimal(1))

    def close_after(self, symbol: str, ts: float) -> float | None:
        """The first session close at or after `ts` on the instrument's calendar."""
        code = self.calendars.get(symbol)
        if code is None and self.book_loader is not None:  # listed since the run began
            found = Instrument.objects.filter(symbol=symbol).values_list("calendar", "mic").first()
            code = self.calendars[symbol] = calendar_code(*found) if found else ""
        if not code:
            return None
        day = datetime.fromtimestamp(ts, tz=UTC).date()
        for close in closes_around(code, day):
            if close >= ts:
                return close
        return None

    def session_label(self, symbol: str, close: float) -> str:
        return datetime.fromtimestamp(close, tz=UTC).date().isoformat()

    def book(self, account: str) -> dict[str, list]:
        return self.book_loader(account) if self.book_loader else {}


ADDITIONS_REFRESH_SECONDS = 30.0


def account_kind(is_market_maker: bool, holder_type: str, trading_capacity: str) -> str:
    """Whose account it is, from the fields that already say so: the market-maker flag, the
    CAT account holder type (E employee, O market making, P proprietary) and the MiFIR trading
    capacity (DEAL: the firm's own book; AOTC or MTCH: a client's)."""
    if is_market_maker or holder_type == CatAccountHolderType.MARKET_MAKING:
        return "market_maker"
    if holder_type == CatAccountHolderType.EMPLOYEE:
        return "staff"
    if holder_type == CatAccountHolderType.PROPRIETARY:
        return "proprietary"
    if trading_capacity == TradingCapacity.DEAL:
        return "proprietary"
    return "client"


def _list_additions_from_database() -> list[tuple]:
    rows = []
    for model, name in ((RestrictedListEntry, "restricted_list"), (WatchListEntry, "watch_list")):
        for pk, at, symbol, issuer, reason in model.objects.values_list(
            "pk", "effective_from", "instrument__symbol", "issuer", "reason"
        ):
            rows.append((at.timestamp(), name, pk, symbol or "", issuer, reason))
    rows.sort()
    return rows


def _book_from_database(account: str) -> dict[str, list]:
    rows = (
        Position.objects.filter(account__code=account)
        .exclude(quantity=0)
        .annotate(price=latest_price_subquery(instrument_ref="instrument_id"))
        .values_list("instrument__symbol", "quantity", "price")
    )
    return {symbol: [quantity, price] for symbol, quantity, price in rows}


# --- reading the stream -----------------------------------------------------------------------


class _Union:
    """Union-find over hashable items; each set is named by its smallest member."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, item):
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def join(self, a, b) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _identity(lei: str, nationality: str | None, national_id: str | None) -> list[str]:
    keys = []
    if lei:
        keys.append(f"lei:{lei.upper()}")
    if national_id:
        compact = "".join(national_id.split()).upper()
        keys.append(f"nid:{nationality or ''}:{compact}")
    return keys


def owner_entities() -> dict[int, str]:
    """Beneficial owner id -> the entity it is: owners that share an LEI or a person's national
    identifier are one entity (however their names are written), named by the first of them
    on record."""
    rows = list(
        BeneficialOwner.objects.values_list(
            "pk", "name", "lei", "person__nationality", "person__national_id"
        )
    )
    names = {pk: name for pk, name, *_ in rows}
    union, first_with = _Union(), {}
    for pk, _name, lei, nationality, national_id in rows:
        union.find(pk)
        for key in _identity(lei, nationality, national_id):
            if key in first_with:
                union.join(pk, first_with[key])
            else:
                first_with[key] = pk
    return {pk: names[union.find(pk)] for pk in names}


def _owners(entities: dict[int, str] | None = None) -> dict[str, str]:
    """Account code -> its beneficial owner as an entity (`owner_entities`)."""
    entities = owner_entities() if entities is None else entities
    return {
        code: entities.get(owner_id, code)
        for code, owner_id in Account.objects.values_list("code", "beneficial_owner_id")
    }


def _related_owners(entities: dict[int, str]) -> dict[str, str]:
    """Owner entity -> the name of the related parties it is one of (RelatedParty), for the
    owners that have any."""
    union = _Union()
    for a, b in RelatedParty.objects.values_list("owner_id", "related_owner_id"):
        if a in entities and b in entities:
            union.join(entities[a], entities[b])
    return {owner: union.find(owner) for owner in union.parent}


def _users() -> dict[int, str]:
    return dict(get_user_model().objects.values_list("pk", "username"))


def _parties(context) -> tuple[dict, dict]:
    """Who is who as this run begins: (account -> owner entity, user id -> username), with the
    context told the market makers and related parties."""
    entities = owner_entities()
    if context is not None:
        context.market_makers = set(
            Account.objects.filter(is_market_maker=True).values_list("code", flat=True)
        )
        context.related_owners = _related_owners(entities)
    return _owners(entities), _users()


def stream_events(
    *,
    after_seq: int,
    up_to_seq: int,
    owners: dict,
    since: datetime | None = None,
    users: dict | None = None,
):
    """The stream's events with after_seq < seq <= up_to_seq (and occurred_at >= since), in
    sequence order, read in chunks."""
    last = after_seq
    while last < up_to_seq:
        rows = AuditEvent.objects.filter(
            seq__gt=last, seq__lte=up_to_seq, event_type__in=STREAM_EVENT_TYPES
        )
        if since is not None:
            rows = rows.filter(occurred_at__gte=since)
        chunk = list(rows.order_by("seq").values_list("seq", "event_type", "record")[:READ_CHUNK])
        if not chunk:
            return
        events = [
            event_from_record(seq, event_type, record, owners, users)
            for seq, event_type, record in chunk
        ]
        yield from _as_fills_stand(events)
        last = chunk[-1][0]


def _as_fills_stand(events: list):
    """The events with each fill as it stands now: a busted fill is left out (it never
    happened), a corrected one carries its corrected quantity and price. One query per chunk."""
    fill_ids = [e.fill_id for e in events if e is not None and e.kind == FILL]
    changed = {}
    if fill_ids:
        changed = {
            pk: (status, quantity, price)
            for pk, status, quantity, price in Fill.objects.filter(pk__in=fill_ids)
            .exclude(status=FillStatus.ACTIVE, version=1)
            .values_list("pk", "status", "quantity", "price")
        }
    for event in events:
        if event is None:
            continue
        if event.kind == FILL and event.fill_id in changed:
            status, quantity, price = changed[event.fill_id]
            if status == FillStatus.BUSTED:
                continue
            event.quantity, event.price = quantity, price
        yield event


def detector_runs(name: str, config) -> bool:
    """Whether a detector runs: enabled, and for concentration (a portfolio check, which the
    portfolio monitor's position-weight rule covers) only where settings ask for its alerts."""
    if not config.enabled:
        return False
    return name != "concentration" or settings.SURVEILLANCE_CONCENTRATION_ALERTS


def _engine(context: StreamContext, configs: dict) -> Engine:
    return Engine.build(
        {name: c.params for name, c in configs.items() if detector_runs(name, c)}, context=context
    )


def _signature(configs: dict) -> tuple:
    return tuple(
        sorted(
            (name, detector_runs(name, c), json.dumps(c.params, sort_keys=True))
            for name, c in configs.items()
        )
    )


def _warm_up_from(after_seq: int) -> datetime | None:
    first = (
        AuditEvent.objects.filter(seq__gt=after_seq, event_type__in=STREAM_EVENT_TYPES)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return first


def findings_between(
    *,
    after_seq: int,
    up_to_seq: int,
    context: StreamContext | None = None,
    configs: dict | None = None,
    engine: Engine | None = None,
) -> tuple[list[Finding], int, Engine | None]:
    """Every pattern completed by an event in (after_seq, up_to_seq], with the windows filled
    from the events before (unless `engine` already holds them: it analysed up to after_seq).
    Returns the findings, the number of new events read, and the engine after them."""
    if engine is None:
        context = context or StreamContext.from_database()
        owners, users = _parties(context)
        engine = _engine(context, configs or detector_configs_ensure())
        first_new = _warm_up_from(after_seq)
        if first_new is None:
            return [], 0, engine
        warm = stream_events(
            after_seq=0,
            up_to_seq=after_seq,
            owners=owners,
            users=users,
            since=first_new - timedelta(seconds=engine.horizon()),
        )
    else:
        owners, users = _parties(engine.detectors[0].context if engine.detectors else None)
        warm = ()
    counter = _Counter(
        stream_events(after_seq=after_seq, up_to_seq=up_to_seq, owners=owners, users=users)
    )
    findings = list(engine.run(_chain(warm, counter), emit_after=after_seq))
    return findings, counter.count, engine


class _Counter:
    def __init__(self, events):
        self.events = events
        self.count = 0

    def __iter__(self):
        for event in self.events:
            self.count += 1
            yield event


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable


# --- the incremental run ----------------------------------------------------------------------


@dataclass
class RunResult:
    from_seq: int
    to_seq: int
    events: int = 0
    raised: list[Alert] = field(default_factory=list)
    added: list[Alert] = field(default_factory=list)
    overtaken: bool = False

    def summary(self) -> str:
        if self.overtaken:
            return "another run moved the watermark first; nothing stored"
        return (
            f"events #{self.from_seq + 1}..#{self.to_seq}: {self.events} read, "
            f"{len(self.raised)} alert(s) raised, {len(self.added)} added to"
        )


# This process's engine after its last stored run: the next run here goes on from it without
# reading the windows again. Any other outcome (another run stored first, an error, changed
# settings) falls back to the warm-up read.
_warm: dict = {}


def forget_warm_engine() -> None:
    _warm.clear()


def surveillance_run(*, batch: int = BATCH_EVENTS, up_to_seq: int | None = None) -> RunResult:
    """One step of the incremental run: at most `batch` sequence numbers past the watermark."""
    # The stream is the sequenced trail: what has committed so far is placed in it first.
    audit_sequence()
    cursor, _ = SurveillanceCursor.objects.get_or_create(name=CURSOR)
    start = cursor.last_seq
    head = AuditChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    end = min(head, start + batch)
    if up_to_seq is not None:
        end = min(end, up_to_seq)
    if end <= start:
        return RunResult(start, start)
    configs = detector_configs_ensure()
    signature = _signature(configs)
    cached = None
    if _warm.get("at") == (start, cursor.last_run_at) and _warm.get("signature") == signature:
        cached = _warm["engine"]
    forget_warm_engine()
    findings, count, engine = findings_between(
        after_seq=start, up_to_seq=end, configs=configs, engine=cached
    )
    result = RunResult(start, end, events=count)
    now = utcnow()
    with transaction.atomic():
        moved = SurveillanceCursor.objects.filter(pk=cursor.pk, last_seq=start).update(
            last_seq=end, last_run_at=now, events_processed=F("events_processed") + count
        )
        if not moved:
            result.overtaken = True
            return result
        result.raised, result.added = alerts_record(findings)
    # Keyed by the watermark and the time this run stored: a cursor moved or reset by anyone
    # else (another process, a restored database) never matches.
    now = SurveillanceCursor.objects.filter(pk=cursor.pk).values_list("last_run_at", flat=True)[0]
    _warm.update(at=(end, now), signature=signature, engine=engine)
    return result


def surveillance_catch_up(*, batch: int = BATCH_EVENTS, max_steps: int = 1000) -> list[RunResult]:
    """Incremental steps until the watermark reaches the head of the stream."""
    results = []
    for _ in range(max_steps):
        result = surveillance_run(batch=batch)
        if result.to_seq == result.from_seq or result.overtaken:
            if result.overtaken:
                results.append(result)
            break
        results.append(result)
    return results


def surveillance_replay(
    *, start: datetime, end: datetime, store: bool = True
) -> tuple[list[Finding], list[Alert], list[Alert]]:
    """Run the detectors over the events recorded in [start, end). With `store`, the findings
    go through the same deduplication as the incremental run (a replay of a range already
    analysed finds its patterns already recorded and stores nothing twice)."""
    audit_sequence()
    seqs = AuditEvent.objects.filter(seq__gt=0, occurred_at__gte=start, occurred_at__lt=end)
    first = seqs.order_by("seq").values_list("seq", flat=True).first()
    last = seqs.order_by("-seq").values_list("seq", flat=True).first()
    if first is None:
        return [], [], []
    findings, _, _ = findings_between(after_seq=first - 1, up_to_seq=last)
    if not store:
        return findings, [], []
    with transaction.atomic():
        raised, added = alerts_record(findings)
    return findings, raised, added
