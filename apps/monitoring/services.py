"""The continuous monitor: measure every book against the portfolio rules, keep the violations.

`monitor_run` is what the beat job runs every minute while a venue is open. It loads every book
in a few queries (positions, latest reference prices, daily closes, recent fills), measures them
all at once with NumPy (apps.monitoring.measures), and reconciles the result with the stored
violations in one transaction: a new breach is stored, audited (LIMIT_BREACH) and routed to staff;
a breach back within bounds is resolved (LIMIT_BREACH_RESOLVED); one still out of bounds has its
last-seen time and measure updated. The run itself is recorded: it is the monitor's heartbeat.
"""

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core import metrics
from apps.core.calendars import calendar_code, market_is_open, open_minutes
from apps.core.time import utcnow
from apps.monitoring import measures
from apps.monitoring.models import (
    FIRM,
    MonitorRun,
    RunStatus,
    Violation,
    ViolationStatus,
)
from apps.notifications.services import alert_notify
from apps.rules.checks.portfolio import SPECS
from apps.rules.models import PORTFOLIO_RULE_TYPES, ComplianceRule, RuleScope, RuleStatus
from apps.trading.models import DailyPrice, Fill, FillStatus, Instrument, Position, is_sell
from apps.trading.selectors import fx_table, latest_price_subquery

logger = logging.getLogger(__name__)

FOUR = Decimal("0.0001")
FIRM_ONLY = {"monitor_uptime", "data_quality"}


# --- the books --------------------------------------------------------------------------------


class ValuationError(Exception):
    """A book cannot be valued in the firm's currency: the run is recorded as an error."""


@dataclass
class Books:
    """Every account with a position, then the firm (the sum of them), as array rows. Values are
    in the firm's currency: quantity x price x multiplier x the latest FX rate."""

    subjects: list[str]  # account codes, then "firm"
    account_ids: list[int | None]
    instrument_ids: np.ndarray
    symbols: list[str]
    quantities: np.ndarray  # (books x instruments), signed
    prices: np.ndarray  # latest reference price per instrument (NaN: none)
    sectors: list[str]
    sector_of: np.ndarray
    # per instrument: what a price of 1 on one unit is worth in the firm's currency (its
    # multiplier times the rate of its currency)
    scale: np.ndarray | None = None
    # per book: the firm's currency into the book's own (an account's base currency; 1 for the
    # firm), for the floors that are amounts in it
    own_currency: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        return self.quantities * (np.nan_to_num(self.prices, nan=0.0) * self._scale)[None, :]

    @property
    def _scale(self) -> np.ndarray:
        return self.scale if self.scale is not None else np.ones(self.instrument_ids.size)

    def in_own_currency(self, row: int, amount: float) -> float:
        return amount * (self.own_currency[row] if self.own_currency is not None else 1.0)

    def row(self, subject: str) -> int | None:
        try:
            return self.subjects.index(subject)
        except ValueError:
            return None


def books_load(now: datetime | None = None) -> Books:
    rows = list(
        Position.objects.filter(account__is_active=True)
        .exclude(quantity=0)
        .order_by("account__code", "instrument_id")
        .values_list(
            "account_id", "account__code", "instrument_id", "quantity", "account__base_currency"
        )
    )
    instrument_ids = np.array(sorted({r[2] for r in rows}), dtype=np.int64)
    info = {
        pk: (symbol, sector, px, multiplier, currency)
        for pk, symbol, sector, px, multiplier, currency in Instrument.objects.filter(
            pk__in=instrument_ids.tolist()
        )
        .annotate(px=latest_price_subquery("price"))
        .values_list("pk", "symbol", "sector", "px", "multiplier", "currency")
    }
    codes = list(dict.fromkeys(r[1] for r in rows))
    account_ids = list(dict.fromkeys(r[0] for r in rows))
    base_of = {r[1]: r[4] for r in rows}
    firm = settings.FIRM_CURRENCY
    # Every rate however old: the monitor measures books, it does not let an order through.
    fx = fx_table(
        currencies={*(i[4] for i in info.values()), *base_of.values()},
        at=now or utcnow(),
        max_age_seconds=None,
    )

    def rate(source: str, target: str) -> float:
        factor = fx.factor(source, target)
        if factor is None:
            raise ValuationError(
                f"No FX rate converts {source} into {target}: the books cannot be valued."
            )
        return float(factor)

    quantities = np.zeros((len(codes) + 1, instrument_ids.size))
    if rows:
        book = np.array([codes.index(r[1]) for r in rows])
        column = np.searchsorted(instrument_ids, np.array([r[2] for r in rows]))
        quantities[book, column] = np.array([float(r[3]) for r in rows])
    quantities[-1] = quantities[:-1].sum(axis=0)
    symbols = [info[i][0] for i in instrument_ids.tolist()]
    sector_names = [info[i][1] or "unclassified" for i in instrument_ids.tolist()]
    sectors = sorted(set(sector_names))
    prices = np.array(
        [float(info[i][2]) if info[i][2] is not None else np.nan for i in instrument_ids.tolist()]
    )
    scale = np.array([float(info[i][3]) * rate(info[i][4], firm) for i in instrument_ids.tolist()])
    own_currency = np.array([*(rate(firm, base_of[code]) for code in codes), 1.0])
    return Books(
        subjects=[*codes, FIRM],
        account_ids=[*account_ids, None],
        instrument_ids=instrument_ids,
        symbols=symbols,
        quantities=quantities,
        prices=prices,
        sectors=sectors,
        sector_of=np.array([sectors.index(s) for s in sector_names], dtype=np.int64),
        scale=scale,
        own_currency=own_currency,
    )


def _daily_pnl(books: Books, lookback_days: int, now: datetime) -> np.ndarray:
    """(days x books) P&L of today's holdings over the last `lookback_days` stored closes."""
    if books.instrument_ids.size == 0:
        return np.zeros((0, len(books.subjects)))
    since = now.date() - timedelta(days=math.ceil(lookback_days * 7 / 5) + 14)
    rows = list(
        DailyPrice.objects.filter(
            instrument_id__in=books.instrument_ids.tolist(), date__gte=since
        ).values_list("date", "instrument_id", "close")
    )
    if not rows:
        return np.zeros((0, len(books.subjects)))
    dates = np.array([r[0].toordinal() for r in rows])
    days, day_index = np.unique(dates, return_inverse=True)
    column = np.searchsorted(books.instrument_ids, np.array([r[1] for r in rows]))
    closes = measures.closes_matrix(
        day_index,
        column,
        np.array([float(r[2]) for r in rows]),
        (days.size, books.instrument_ids.size),
    )[-(lookback_days + 1) :]
    # In the firm's currency, multiplier included, as the books' values are.
    return measures.daily_pnl(closes * books._scale[None, :], books.quantities)


# --- findings ---------------------------------------------------------------------------------


@dataclass
class Finding:
    rule: ComplianceRule
    subject: str
    account_id: int | None
    observed: Decimal
    threshold: Decimal
    breached: bool
    message: str


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(FOUR, rounding=ROUND_HALF_EVEN)


def with_unit(value: Decimal, unit: str) -> str:
    """12.5% of NAV, 3.2%, 41 bp, 0.31."""
    text = f"{value.normalize():f}"
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("%") else f"{text} {unit}"


def _label(subject: str) -> str:
    return "the firm" if subject == FIRM else subject


class _Measures:
    """Each measure computed once per run, on first use, for every book at once."""

    def __init__(self, books: Books, now: datetime):
        self.books, self.now = books, now
        self._cache: dict = {}

    def _once(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def shares(self):
        return self._once("shares", lambda: measures.weights(self.books.values))

    def pnl(self, lookback: int) -> np.ndarray:
        return self._once(("pnl", lookback), lambda: _daily_pnl(self.books, lookback, self.now))

    def implementation_shortfall(self, window_minutes: int):
        return self._once(("is", window_minutes), lambda: _shortfall(self, window_minutes))


def _shortfall(m: _Measures, window_minutes: int):
    books = m.books
    rows = list(
        Fill.objects.filter(
            status=FillStatus.ACTIVE,
            executed_at__gte=m.now - timedelta(minutes=window_minutes),
            order__reference_price__isnull=False,
            order__reference_price__gt=0,
        ).values_list(
            "order__account__code",
            "order__side",
            "quantity",
            "price",
            "order__reference_price",
            "order__instrument__multiplier",
        )
    )
    firm = len(books.subjects) - 1
    index = {code: i for i, code in enumerate(books.subjects[:-1])}
    if not rows:
        return np.zeros(firm + 1), np.zeros(firm + 1, dtype=int)
    # An account with no open position is not a row of the books: its fills count for the
    # firm only (the firm's row is the total of every fill, set below).
    book = np.array([index.get(r[0], firm) for r in rows])
    side = np.array([-1.0 if is_sell(r[1]) else 1.0 for r in rows])
    price, reference = (np.array([float(r[k]) for r in rows]) for k in (3, 4))
    # Contracts times their size: an option fill weighs as the shares it stands for.
    quantity = np.array([float(r[2] * r[5]) for r in rows])
    per_book_bp, per_book_fills = measures.implementation_shortfall_bp(
        book, firm + 1, side, quantity, price, reference
    )
    firm_bp, firm_fills = measures.implementation_shortfall_bp(
        np.zeros(len(rows), dtype=np.int64), 1, side, quantity, price, reference
    )
    per_book_bp[firm], per_book_fills[firm] = firm_bp[0], firm_fills[0]
    return per_book_bp, per_book_fills


def _book_rows(rule: ComplianceRule, books: Books) -> list[int]:
    if rule.scope == RuleScope.ACCOUNT:
        row = books.row(rule.scope_value)
        return [] if row is None else [row]
    return list(range(len(books.subjects)))


def _evaluate_book_rule(
    rule, params, m: _Measures, rows: list[int]
) -> list[tuple[int, float, str]]:
    """(row, measure, what it is about) for each book the rule judges."""
    books, kind = m.books, rule.rule_type
    shares, gross = m.shares
    floor = float(params.get("min_portfolio_value", "0"))  # in the book's own currency
    judged = [r for r in rows if gross[r] > 0 and books.in_own_currency(r, gross[r]) >= floor]
    if kind in ("expected_shortfall", "max_drawdown"):
        pnl = m.pnl(params["lookback_days"])
        if pnl.shape[0] < 2:
            return []
        if kind == "expected_shortfall":
            es = measures.expected_shortfall(pnl, float(params["confidence"]) / 100)
            return [(r, es[r] / gross[r] * 100, f"over {pnl.shape[0]} days") for r in judged]
        drawdown = measures.max_drawdown(gross, pnl)
        return [(r, drawdown[r] * 100, f"over {pnl.shape[0]} days") for r in judged]
    if kind == "position_weight":
        top, at = measures.largest_weight(shares)
        return [(r, top[r] * 100, books.symbols[at[r]]) for r in judged]
    if kind == "sector_weight":
        by_sector = measures.sector_weights(shares, books.sector_of, len(books.sectors))
        top, at = by_sector.max(axis=1), by_sector.argmax(axis=1)
        return [(r, top[r] * 100, books.sectors[at[r]]) for r in judged]
    if kind == "herfindahl":
        index = measures.herfindahl(shares)
        return [(r, index[r], f"{int((shares[r] > 0).sum())} positions") for r in judged]
    if kind == "implementation_shortfall":
        bp, fills = m.implementation_shortfall(params["window_minutes"])
        return [
            (r, bp[r], f"{int(fills[r])} fills")
            for r in rows
            if r < bp.size and fills[r] >= params["min_fills"]
        ]
    return []


def calendars_now(now: datetime) -> tuple[set[str], set[str]]:
    """The calendars of the active instruments, and those open now."""
    codes = {
        calendar_code(calendar, mic)
        for calendar, mic in Instrument.objects.filter(is_active=True).values_list(
            "calendar", "mic"
        )
    }
    return codes, {code for code in codes if market_is_open(code, now)}


def _open_minutes(codes: set[str], start: datetime, end: datetime) -> np.ndarray:
    """Epoch seconds of every minute in [start, end) when at least one calendar is open."""
    first, last = int(start.timestamp()) // 60, int(end.timestamp()) // 60
    if last <= first:
        return np.zeros(0, dtype=np.int64)
    grid = np.arange(first, last, dtype=np.int64)
    open_ = np.zeros(grid.size, dtype=bool)
    for code in codes:
        open_ |= np.isin(grid, open_minutes(code, start, end))
    return grid[open_] * 60


def _evaluate_firm_rule(rule, params, now: datetime, calendars: set[str], open_now: set[str]):
    if rule.rule_type == "monitor_uptime":
        first = MonitorRun.objects.order_by("started_at").values_list("started_at", flat=True)
        first = first.first()
        start = now - timedelta(hours=params["window_hours"])
        if first is None:
            return None  # the monitor has not run before: nothing to measure yet
        start = max(start, first)
        end = now.replace(second=0, microsecond=0)
        beats = np.array(
            [
                t.timestamp()
                for t in MonitorRun.objects.filter(
                    started_at__gte=start - timedelta(minutes=2)
                ).values_list("started_at", flat=True)
            ]
        )
        minutes = _open_minutes(calendars, start, end)
        share = measures.uptime(minutes, beats)
        return share * 100, f"{minutes.size} market minutes in the last {params['window_hours']} h"
    if rule.rule_type == "data_quality":
        rows = list(
            Instrument.objects.filter(is_active=True)
            .annotate(as_of=latest_price_subquery("as_of"))
            .values_list("calendar", "mic", "as_of")
        )
        ages = np.array(
            [
                (now - t).total_seconds() if t is not None else np.nan
                for calendar, mic, t in rows
                if calendar_code(calendar, mic) in open_now
            ]
        )
        return (
            measures.fresh_share(ages, params["max_age_seconds"]) * 100,
            f"{ages.size} instruments trading now",
        )
    return None


def _findings(rules, books: Books, now: datetime, calendars, open_now) -> list[Finding]:
    m = _Measures(books, now)
    out = []
    for rule in rules:
        spec = SPECS[rule.rule_type]
        params = spec.validate(dict(rule.parameters))
        threshold = Decimal(params[spec.limit])
        if rule.rule_type in FIRM_ONLY:
            result = _evaluate_firm_rule(rule, params, now, calendars, open_now)
            measured = [] if result is None else [(None, *result)]
        else:
            measured = _evaluate_book_rule(rule, params, m, _book_rows(rule, books))
        for row, value, about in measured:
            observed = _decimal(value)
            breached = observed > threshold if spec.bound == "max" else observed < threshold
            subject = FIRM if row is None else books.subjects[row]
            word = "above the maximum" if spec.bound == "max" else "below the minimum"
            state = word if breached else "within the limit"
            text = (
                f"{rule.get_rule_type_display()} of {_label(subject)} is "
                f"{with_unit(observed, spec.unit)} ({about}), {state} of "
                f"{with_unit(threshold, spec.unit)}."
            )
            out.append(
                Finding(
                    rule=rule,
                    subject=subject,
                    account_id=None if row is None else books.account_ids[row],
                    observed=observed,
                    threshold=threshold,
                    breached=breached,
                    message=text,
                )
            )
    return out


# --- the run ----------------------------------------------------------------------------------


def portfolio_rules(now: datetime) -> list[ComplianceRule]:
    return list(
        ComplianceRule.objects.filter(rule_type__in=PORTFOLIO_RULE_TYPES, status=RuleStatus.ACTIVE)
        .filter(Q(effective_from__isnull=True) | Q(effective_from__lte=now))
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=now))
        .order_by("priority", "code")
    )


def _violation_fields(v: Violation) -> dict:
    return {
        "rule": v.rule_code,
        "rule_type": v.rule_type,
        "subject": v.subject,
        "severity": v.severity,
        "observed": v.observed,
        "threshold": v.threshold,
        "unit": v.unit,
        "first_seen": v.first_seen,
        "last_seen": v.last_seen,
        "message": v.message,
        "regulation": v.regulation,
    }


def _open(finding: Finding, now: datetime) -> Violation:
    spec = SPECS[finding.rule.rule_type]
    severity = finding.rule.parameters.get("severity") or spec.severity
    violation = Violation.objects.create(
        rule=finding.rule,
        rule_code=finding.rule.code,
        rule_type=finding.rule.rule_type,
        account_id=finding.account_id,
        subject=finding.subject,
        severity=severity,
        observed=finding.observed,
        threshold=finding.threshold,
        worst=finding.observed,
        unit=spec.unit,
        message=finding.message,
        regulation=finding.rule.regulation,
        first_seen=now,
        last_seen=now,
    )
    audit_record(
        event_type=EventType.LIMIT_BREACH,
        object_type="monitoring.violation",
        object_id=violation.pk,
        payload=_violation_fields(violation),
    )
    alert_notify(
        kind="limit_breach",
        severity=severity,
        subject=f"{finding.rule.code} breached by {_label(finding.subject)}",
        text=finding.message,
        payload={
            "rule": violation.rule_code,
            "rule_type": violation.rule_type,
            "subject": violation.subject,
            "observed": str(violation.observed),
            "threshold": str(violation.threshold),
            "unit": violation.unit,
            "regulation": violation.regulation,
        },
        object_type="monitoring.violation",
        object_id=violation.pk,
    )
    metrics.COMPLIANCE_ISSUES.labels(severity, finding.rule.rule_type).inc()
    return violation


def _resolve(violation: Violation, now: datetime, why: str) -> None:
    violation.status = ViolationStatus.RESOLVED
    violation.resolved_at = now
    violation.save(update_fields=["status", "resolved_at"])
    audit_record(
        event_type=EventType.LIMIT_BREACH_RESOLVED,
        object_type="monitoring.violation",
        object_id=violation.pk,
        payload={**_violation_fields(violation), "resolved_at": now, "why": why},
    )
    alert_notify(
        kind="limit_breach_resolved",
        severity="info",
        subject=f"{violation.rule_code} back within bounds for {_label(violation.subject)}",
        text=why,
        payload={"rule": violation.rule_code, "subject": violation.subject},
        object_type="monitoring.violation",
        object_id=violation.pk,
    )


def monitor_run(*, now: datetime | None = None, require_open: bool = True) -> MonitorRun | None:
    """One pass of every active portfolio rule over every book. Returns None, doing nothing,
    when no venue of an active instrument is open (unless `require_open` is False)."""
    now = now or utcnow()
    calendars, open_now = calendars_now(now)
    if require_open and not open_now:
        return None
    started = time.perf_counter()
    try:
        with transaction.atomic():
            run = _reconcile(now, calendars, open_now)
            run.duration_seconds = _duration(started)
            run.save(update_fields=["duration_seconds"])
    except Exception as exc:
        logger.exception("portfolio monitor run failed")
        metrics.RISK_CHECK_FAILURES.labels("monitor_error").inc()
        metrics.COMPLIANCE_CHECKS.labels("portfolio", RunStatus.ERROR).inc()
        return MonitorRun.objects.create(
            started_at=now,
            finished_at=utcnow(),
            duration_seconds=_duration(started),
            status=RunStatus.ERROR,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
    metrics.COMPLIANCE_CHECKS.labels("portfolio", RunStatus.OK).inc()
    metrics.COMPLIANCE_CHECK_DURATION.labels("portfolio").observe(time.perf_counter() - started)
    return run


def _duration(started: float) -> Decimal:
    return Decimal(f"{time.perf_counter() - started:.6f}")


def _reconcile(now: datetime, calendars: set[str], open_now: set[str]) -> MonitorRun:
    rules = portfolio_rules(now)
    books = books_load(now)
    findings = _findings(rules, books, now, calendars, open_now)
    active = {
        (v.rule_id, v.subject): v
        for v in Violation.objects.select_for_update().filter(status=ViolationStatus.ACTIVE)
    }
    opened = resolved = 0
    seen: list[Violation] = []
    measured = set()
    for finding in findings:
        key = (finding.rule.pk, finding.subject)
        measured.add(key)
        violation = active.pop(key, None)
        if finding.breached and violation is None:
            _open(finding, now)
            opened += 1
        elif finding.breached:
            violation.last_seen = now
            violation.observed = finding.observed
            violation.message = finding.message
            violation.times_seen += 1
            worse = finding.observed > violation.worst
            if SPECS[finding.rule.rule_type].bound == "min":
                worse = finding.observed < violation.worst
            if worse:
                violation.worst = finding.observed
            seen.append(violation)
        elif violation is not None:
            _resolve(violation, now, finding.message)
            resolved += 1
    # Left over: the rule is no longer in force, or the book is gone (the account is flat).
    in_force = {rule.pk for rule in rules}
    for (rule_id, subject), violation in active.items():
        if rule_id not in in_force:
            _resolve(violation, now, f"The rule {violation.rule_code} is no longer in force.")
            resolved += 1
        elif subject != FIRM and books.row(subject) is None:
            _resolve(violation, now, f"{subject} holds no positions any more.")
            resolved += 1
    Violation.objects.bulk_update(seen, ["last_seen", "observed", "message", "times_seen", "worst"])
    return MonitorRun.objects.create(
        started_at=now,
        finished_at=utcnow(),
        duration_seconds=Decimal(0),
        rules_evaluated=len(rules),
        books=len(books.subjects),
        violations_opened=opened,
        violations_resolved=resolved,
        active_violations=Violation.objects.filter(status=ViolationStatus.ACTIVE).count(),
    )


# --- the audit trail's unsigned tail ----------------------------------------------------------


def audit_tail_check(*, now: datetime | None = None) -> dict | None:
    """Raise a critical alert when an audit event has waited longer than
    AUDIT_MAX_UNSIGNED_SECONDS for a witnessed checkpoint (a signed one without a witness): the
    checkpoint job has stopped, or its witness cannot be written. Once per first unsigned event:
    the alert names it, and a later run that finds the same one raises nothing again. Returns
    the tail when it alerted, None otherwise."""
    from apps.audit.selectors import audit_tail
    from apps.notifications.models import Delivery

    now = now or utcnow()
    tail = audit_tail(now=now)
    bound = settings.AUDIT_MAX_UNSIGNED_SECONDS
    if bound <= 0 or tail["oldest_unsigned_seconds"] <= bound:
        return None
    first = tail["tree_size"] + 1
    kind = "audit_checkpoint_stale"
    if Delivery.objects.filter(event=kind, object_type="audit.auditevent", object_id=str(first)):
        return None
    what = "witnessed" if tail["witnessed"] else "signed"
    with transaction.atomic():
        alert_notify(
            kind=kind,
            severity="critical",
            subject=f"Audit trail: no {what} checkpoint for {tail['oldest_unsigned_seconds']} s",
            text=(
                f"{tail['unsigned_events']} audit events, from sequence {first}, wait for a {what} "
                f"checkpoint; the oldest for {tail['oldest_unsigned_seconds']} s (bound: {bound} "
                "s). Check the audit.checkpoint beat job and the witness directory."
            ),
            payload={
                "first_unsigned_seq": first,
                "unsigned_events": tail["unsigned_events"],
                "oldest_unsigned_seconds": tail["oldest_unsigned_seconds"],
                "last_checkpoint_tree_size": tail["tree_size"],
                "witnessed": tail["witnessed"],
            },
            object_type="audit.auditevent",
            object_id=first,
        )
    metrics.COMPLIANCE_ISSUES.labels("critical", "audit_checkpoint_stale").inc()
    return tail
