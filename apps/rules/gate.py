"""The pre-trade gate: build an order's context in a few batched reads, evaluate the rule set,
and record the decision, all under the account's lock and in one transaction. Fails closed.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from apps.approvals.services import approval_request_create
from apps.audit import canonical
from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core import metrics, sql
from apps.core.calendars import market_is_open
from apps.core.errors import Conflict, NotFound
from apps.core.time import utcnow
from apps.killswitch.check import kill_switch_check
from apps.rbac import refcache
from apps.rbac.access import user_role
from apps.rules import engine, reads
from apps.rules.checks.base import (
    ZERO,
    CheckContext,
    CrossingOrder,
    InstrumentInfo,
    LocateInfo,
    OrderIntent,
)
from apps.rules.models import (
    ComplianceRule,
    RuleSetVersion,
    RuleStatus,
)
from apps.trading import trail
from apps.trading.fx import FxTable
from apps.trading.models import (
    Account,
    Instrument,
    MessageKind,
    Order,
    OrderStatus,
    Side,
    is_sell,
    locate_ref,
    locate_used,
    sees_every_account,
)
from apps.trading.pricing import notional, order_valuation_price
from apps.trading.services import (
    order_amend,
    order_message_record,
    order_record,
    order_snapshot,
)

logger = logging.getLogger(__name__)

GATE_RULE = "GATE"


# --- the cached rule set ----------------------------------------------------------------------

_cache: dict[str, Any] = {"version": None, "ruleset": None}


@transaction.atomic
def ruleset_bump() -> None:
    """Call in the transaction that changes a rule or list: every process reloads."""
    row, _ = RuleSetVersion.objects.select_for_update().get_or_create(pk=1)
    # Never a number seen before (not even after a rolled-back bump): caches compare equality.
    row.version = max(row.version + 1, time.time_ns())
    row.save(update_fields=["version"])


def ruleset_current(version: int | None = None) -> engine.RuleSet:
    """The compiled rule set, reloaded when its version moved (pass the version when it was
    read in the same batch as other reads)."""
    if version is None:
        found = sql.one(*reads.ruleset_version())
        version = found[0] if found else 0
    if _cache["version"] != version or _cache["ruleset"] is None:
        rows = ComplianceRule.objects.filter(status__in=[RuleStatus.ACTIVE, RuleStatus.TESTING])
        _cache["ruleset"] = engine.compile_rules(list(rows), version)
        _cache["version"] = version
    return _cache["ruleset"]


# --- input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """An order as the gate judges it: a new one (the order API, the simulator), or a stored one
    judged again (`from_order`: an amendment, the re-check of a held order, a replay)."""

    account: Account
    instrument: Instrument
    client_order_id: str
    side: str
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: str
    metadata: dict
    # The new order's fields as validated, amounts as decimal strings: the SHA-256 of its
    # canonical JSON is the idempotency digest (`request_digest`). Empty when a stored order is
    # judged again (amendment, re-check, replay): nothing is resent there.
    body: dict
    order: Order | None = None  # the stored order judged again
    expire_at: datetime | None = None  # a gtd order's expiry (apps.trading.expiry)
    # Whether the submitter is entitled to the account, when the caller read it already (the
    # order API, in the statement that found the account); None: the gate reads it itself
    # when a market-access rule asks.
    submitter_entitled: bool | None = None

    @classmethod
    def from_order(
        cls,
        order: Order,
        *,
        account: Account | None = None,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
    ) -> "OrderRequest":
        """A stored order as a request: its own figures, or an amendment's `quantity` and
        `limit_price` where given. `account`: the row the caller locked (else the order's)."""
        return cls(
            account=order.account if account is None else account,
            instrument=order.instrument,
            client_order_id=order.client_order_id,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity if quantity is None else quantity,
            limit_price=order.limit_price if limit_price is None else limit_price,
            time_in_force=order.time_in_force,
            metadata=order.metadata or {},
            body={},
            order=order,
        )


def request_digest(body: dict) -> str:
    return hashlib.sha256(canonical.canonical_bytes(body)).hexdigest()


def _instrument_info(instrument: Instrument) -> InstrumentInfo:
    underlying = instrument.underlying
    return InstrumentInfo(
        id=instrument.pk,
        symbol=instrument.symbol,
        asset_class=instrument.asset_class,
        sector=instrument.sector,
        issuer=instrument.issuer,
        mic=instrument.mic,
        calendar=instrument.calendar_code,
        currency=instrument.currency,
        lot_size=instrument.lot_size,
        tick_size=instrument.tick_size,
        underlying_issuer=underlying.issuer if underlying is not None else "",
        multiplier=instrument.multiplier,
    )


# --- context ----------------------------------------------------------------------------------


@dataclass
class ContextReads:
    """The statements `build_context` reads an order's context with (`context_reads`), so that
    a caller may send them in its own batch (the gate: with the account's lock) and hand the
    results back (`build_context(..., reads=, fetched=)`)."""

    now: datetime
    past: bool
    entitled: bool | None
    wanted: dict[str, sql.Statement]

    @property
    def statements(self) -> list[sql.Statement]:
        return list(self.wanted.values())


def build_context(
    intent: OrderIntent,
    *,
    account: Account,
    user,
    types: frozenset[str],
    now=None,
    duplicate_window: int | None = None,
    own: Order | None = None,
    own_counted: bool = False,
    entitled: bool | None = None,
    reads: ContextReads | None = None,
    fetched: list[list[tuple]] | None = None,
) -> CheckContext:
    """Everything the rules need, read in one batch of plain-SQL statements (one round trip on
    PostgreSQL; fewer statements when fewer rule types need them). With `duplicate_window`
    (the longest window of the duplicate-order rules) the duplicate lookup joins the batch.

    `own` is the stored order the intent stands for (`intent.order_id`: an amendment, a
    re-check, a replay): its open quantity is replaced, not added to, and it is not its own
    duplicate. With `own_counted` (the re-check of a held order) it is also left out of the
    order counts it entered when it was submitted, so that the order rate and cancel ratio ask
    what they asked then: is this one order more than the account may send?

    `now` is given to judge an order as of its own time (a replay): messages sent later are
    then left out of the message counts.

    `entitled`: whether `user` is entitled to the account, if the caller knows; else, when a
    market-access rule is active, read in the same batch (Risk Manager and above: every
    account).

    `reads` and `fetched`: the statements of `context_reads` (with the same arguments) and
    their results, when the caller sent them in its own batch."""
    if reads is None:
        reads = context_reads(
            intent,
            account=account,
            user=user,
            types=types,
            now=now,
            duplicate_window=duplicate_window,
            entitled=entitled,
        )
        fetched = sql.batch(reads.statements)
    now, entitled = reads.now, reads.entitled
    info = intent.instrument
    base, firm = account.base_currency, settings.FIRM_CURRENCY
    firm_wide = "firm_capital" in types
    user_id = user.pk if user is not None else None
    got = dict(zip(reads.wanted, fetched, strict=True))

    def duplicate_statement(seconds: int) -> sql.Statement:
        return _duplicate_statement(intent, account, now, seconds)

    return _context(
        intent,
        got,
        account=account,
        user=user,
        user_id=user_id,
        now=now,
        base=base,
        firm=firm,
        firm_wide=firm_wide,
        info=info,
        own=own,
        own_counted=own_counted,
        entitled=entitled,
        duplicate_window=duplicate_window,
        duplicate_statement=duplicate_statement,
    )


def _duplicate_statement(intent: OrderIntent, account: Account, now, seconds: int):
    return reads.latest_duplicate(
        account_id=account.pk,
        instrument_id=intent.instrument.id,
        side=intent.side,
        quantity=intent.quantity,
        limit_price=intent.limit_price,
        since=now - timedelta(seconds=seconds),
        exclude_id=intent.order_id,
    )


def context_reads(
    intent: OrderIntent,
    *,
    account: Account,
    user,
    types: frozenset[str],
    now=None,
    duplicate_window: int | None = None,
    entitled: bool | None = None,
) -> ContextReads:
    """The statements that read an order's context (see `build_context`)."""
    past = now is not None
    now = now or utcnow()
    info = intent.instrument
    base, firm = account.base_currency, settings.FIRM_CURRENCY
    firm_wide = "firm_capital" in types
    wanted: dict[str, sql.Statement] = {
        "ref": reads.reference_price(info.id),
        "positions": reads.open_positions(account.pk),
        "working": reads.working_exposure(account.pk),
        "today": reads.daily_figures(account.pk, now.date()),
        "switches": reads.active_kill_switches(intent.account_code, info.symbol),
        "fx": reads.fx_rates(
            account_id=account.pk,
            day=now.date(),
            currencies=[info.currency],
            anchors=sorted({base, firm}),
            now=now,
            firm_wide=firm_wide,
        ),
    }
    if firm_wide:
        wanted["firm"] = reads.firm_notional(now.date())
    if "order_rate" in types:
        wanted["rate"] = reads.orders_since(account.pk, now - timedelta(seconds=60))
    if "daily_volume" in types:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        wanted["volume"] = reads.filled_quantity_since(account.pk, info.id, start)
    if "restricted_list" in types:
        issuers = [i for i in (info.issuer, info.underlying_issuer) if i]
        wanted["restricted"] = reads.live_restrictions(info.id, issuers, now)
    user_id = user.pk if user is not None else None
    if "market_access" in types and entitled is None and user_id is not None:
        if sees_every_account(user):
            entitled = True
        else:
            wanted["entitled"] = reads.entitlement(account.pk, user_id)
    if "message_rate" in types:
        wanted["messages"] = reads.messages_sent(of="account", key=account.pk, now=now, past=past)
        if user_id is not None:
            wanted["user_messages"] = reads.messages_sent(
                of="user", key=user_id, now=now, past=past
            )
    if "self_trade" in types:
        wanted["crossing"] = reads.crossing_orders(
            owner_id=account.beneficial_owner_id,
            account_id=account.pk,
            instrument_id=info.id,
            side=intent.side,
            limit_price=intent.limit_price,
            exclude_id=intent.order_id,
        )

    if duplicate_window:
        wanted["duplicate"] = _duplicate_statement(intent, account, now, duplicate_window)
    locate_id = _locate_named(intent)
    if locate_id is not None:
        wanted["locate"] = reads.account_locate(locate_id, account.pk)
        wanted["locate_orders"] = reads.locate_orders(locate_id, intent.order_id)
    return ContextReads(now=now, past=past, entitled=entitled, wanted=wanted)


def _context(
    intent: OrderIntent,
    got: dict[str, list[tuple]],
    *,
    account: Account,
    user,
    user_id,
    now,
    base: str,
    firm: str,
    firm_wide: bool,
    info: InstrumentInfo,
    own: Order | None,
    own_counted: bool,
    entitled: bool | None,
    duplicate_window: int | None,
    duplicate_statement,
) -> CheckContext:
    ref = got["ref"][0] if got["ref"] else None
    fx = FxTable(got["fx"], now=now, max_age_seconds=settings.FX_RATE_MAX_AGE_SECONDS, via=firm)
    missing: set[str] = set()

    def to_base(amount: Decimal, currency: str) -> Decimal:
        """The amount in the account's base currency; zero, noted as missing, when no fresh
        rate converts it (the rules that add such amounts up then fail closed)."""
        if not amount:  # nothing held in that currency (a row left at zero): nothing to convert
            return ZERO
        rate = fx.factor(currency, base)
        if rate is None:
            missing.add(currency)
            return ZERO
        return amount * rate

    ctx = CheckContext(
        order=intent,
        now=now,
        reference_price=ref[0] if ref else None,
        reference_as_of=ref[1] if ref else None,
        account_credit_limit=account.credit_limit,
        kill_switches=got["switches"],
        role_lookup=lambda: _role_slug(user),
        account_is_market_maker=account.is_market_maker,
        submitter_entitled=bool(got["entitled"]) if "entitled" in got else entitled,
        base_currency=base,
        fx_rate=fx.factor(info.currency, base),
    )
    # Positions and open orders of the whole account, each valued at its latest price, in the
    # account's base currency.
    exposure: dict[int, Decimal] = {}
    sectors: dict[int, str] = {}
    for iid, qty, px, cost, sector, currency, multiplier in got["positions"]:
        # Without a reference price, value at cost rather than at nothing (never understate).
        value = notional(abs(qty), px if px is not None else cost, multiplier)
        exposure[iid] = exposure.get(iid, ZERO) + to_base(value, currency)
        sectors[iid] = sector
        if iid == info.id:
            ctx.position = qty
    open_notional = ZERO
    for iid, bq, sq, bn, sn, sector, currency in got["working"]:
        working = to_base(bn + sn, currency)
        exposure[iid] = exposure.get(iid, ZERO) + working
        sectors[iid] = sector
        open_notional += working
        if iid == info.id:
            ctx.working_buy, ctx.working_sell = bq, sq
    own_local = ZERO
    if own is not None:
        own_local = _exclude_own_working(ctx, own)
        own_base = own_local * ctx.fx_rate if ctx.fx_rate is not None else ZERO
        exposure[info.id] = exposure.get(info.id, ZERO) - own_base
        open_notional -= own_base
    ctx.exposure_by_instrument = exposure
    ctx.sector_by_instrument = sectors
    ctx.account_open_notional = open_notional
    filled = ZERO
    for currency, amount, orders, cancels in got["today"]:
        if currency is None:
            ctx.today_orders, ctx.today_cancels = orders, cancels
        else:
            filled += to_base(amount, currency)
    ctx.today_filled_notional = filled
    ctx.fx_missing = frozenset(missing)
    if firm_wide:
        _firm_totals(ctx, got["firm"], fx, firm, own_local)
    if "rate" in got:
        ctx.orders_last_minute = got["rate"][0][0]
    if "volume" in got:
        ctx.today_filled_quantity = got["volume"][0][0] or ZERO
    if "restricted" in got:
        ctx.restrictions = restrictions_for(info, got["restricted"])
    if got.get("locate"):
        lid, iid, lender, located, expires_at = got["locate"][0]
        used = locate_used(got["locate_orders"])
        ctx.locate = LocateInfo(lid, iid, lender, located, used, expires_at)
    if own is not None and own_counted:
        if "rate" in got and own.created_at >= now - timedelta(seconds=60):
            ctx.orders_last_minute = max(0, ctx.orders_last_minute - 1)
        if own.created_at.date() == now.date():
            ctx.today_orders = max(0, ctx.today_orders - 1)
    if "messages" in got:
        _message_counts(ctx, got, own=own if own_counted else None, user_id=user_id)
    if "crossing" in got:
        ctx.crossing_orders = [
            CrossingOrder(*row[:8], open_quantity=row[8] - row[9], status=row[10])
            for row in got["crossing"]
        ]

    latest = got["duplicate"][0][0] if "duplicate" in got else None

    def duplicate_within(seconds: int) -> bool:
        if duplicate_window and seconds <= duplicate_window:
            return latest is not None and latest >= now - timedelta(seconds=seconds)
        return sql.one(*duplicate_statement(seconds))[0] is not None

    ctx.duplicate_within = duplicate_within
    ctx.is_open = market_is_open
    return ctx


def _locate_named(intent: OrderIntent) -> int | None:
    """The locate a short sale names (an id that cannot be one names none)."""
    if intent.side != Side.SELL_SHORT:
        return None
    try:
        return locate_ref(intent.metadata)
    except ValueError:
        return None


def _message_counts(ctx: CheckContext, got: dict, *, own: Order | None, user_id) -> None:
    """The message counts from `reads.messages_sent`. `own`: a held order re-checked, whose
    own new-order message is left out (the question is the one asked when it was sent)."""
    ctx.account_messages_last_minute, ctx.account_messages_last_second = got["messages"][0]
    if "user_messages" in got:
        ctx.user_messages_last_minute, ctx.user_messages_last_second = got["user_messages"][0]
    if own is None:
        return
    scopes = ["account"]
    if own.submitted_by_id is not None and own.submitted_by_id == user_id:
        scopes.append("user")
    age = ctx.now - own.created_at
    for window, seconds in (("minute", 60), ("second", 1)):
        if age < timedelta(seconds=seconds):
            for scope in scopes:
                name = f"{scope}_messages_last_{window}"
                setattr(ctx, name, max(0, getattr(ctx, name) - 1))


def _role_slug(user) -> str:
    role = user_role(user)
    return role.slug if role else ""


def _exclude_own_working(ctx: CheckContext, own: Order) -> Decimal:
    """The stored order's current open quantity is replaced, not added to. Returns the open
    notional taken out, in the instrument's currency (as working exposure keeps it)."""
    remaining = own.quantity - own.filled_quantity
    if is_sell(own.side):
        ctx.working_sell -= remaining
    else:
        ctx.working_buy -= remaining
    return notional(remaining, order_valuation_price(own) or ZERO, ctx.order.instrument.multiplier)


def _firm_totals(
    ctx: CheckContext, found: list[tuple], fx: FxTable, firm: str, own_local: Decimal
) -> None:
    """The firm's working and today's filled notional in the firm's currency (from
    `reads.firm_notional`), the stored order's own open notional taken out."""
    total, missing = ZERO, set()
    for currency, amount in found:
        if not amount:  # a currency nobody holds any more needs no rate
            continue
        rate = fx.factor(currency, firm)
        if rate is None:
            missing.add(currency)
        else:
            total += amount * rate
    ctx.firm_currency = firm
    ctx.fx_rate_firm = fx.factor(ctx.order.instrument.currency, firm)
    if own_local and ctx.fx_rate_firm is not None:
        total -= own_local * ctx.fx_rate_firm
    ctx.firm_used = total
    ctx.firm_fx_missing = frozenset(missing)


def restrictions_for(info: InstrumentInfo, found: list[tuple]) -> list[dict]:
    """What the restricted list says of the instrument, from `reads.live_restrictions`."""
    out = []
    for instrument_id, issuer, reason in found:
        if instrument_id == info.id:
            kind, target = "instrument", info.symbol
        elif issuer == info.issuer:
            kind, target = "issuer", issuer
        else:
            kind, target = "underlying_issuer", issuer
        out.append({"kind": kind, "target": target, "reason": reason})
    return out


# --- the gate ---------------------------------------------------------------------------------


@dataclass
class GateAnswer:
    order: Order | None
    status: str
    checks: list[dict]
    replayed: bool = False  # the same client_order_id and body were sent before


def _gate_error(message: str, code: str) -> list[dict]:
    return [
        {
            "rule": GATE_RULE,
            "rule_type": "gate",
            "status": "fail",
            "observed": None,
            "threshold": None,
            "message": message,
            "regulation": "SEC 15c3-5(c)",
            "code": code,
            "action": "reject",
        }
    ]


def order_intent(req: OrderRequest, user) -> OrderIntent:
    """What the rules see of the request, `user` being its submitter."""
    return OrderIntent(
        account_id=req.account.pk,
        account_code=req.account.code,
        instrument=_instrument_info(req.instrument),
        side=req.side,
        order_type=req.order_type,
        quantity=req.quantity,
        limit_price=req.limit_price,
        time_in_force=req.time_in_force,
        metadata=req.metadata,
        client_order_id=req.client_order_id,
        submitted_by=user.get_username() if user is not None else "",
        order_id=req.order.pk if req.order is not None else None,
    )


def evaluate_request(
    req: OrderRequest,
    user,
    *,
    account: Account,
    ruleset_version: int | None = None,
    own_counted: bool = False,
    prefetched: "_Prefetched | None" = None,
) -> tuple[str, list[dict], CheckContext | None]:
    """Decision and results; any error inside evaluation rejects (fail closed).
    `own_counted`: see `build_context` (a held order re-checked before its release).
    `prefetched`: the rule set, intent and context reads already sent (`order_submit`)."""
    started = time.perf_counter()
    try:
        if prefetched is not None:
            ruleset, intent = prefetched.ruleset, prefetched.intent
            reads_done, fetched = prefetched.reads, prefetched.fetched
        else:
            ruleset = ruleset_current(ruleset_version)
            intent = order_intent(req, user)
            reads_done, fetched = None, None
        ctx = build_context(
            intent,
            account=account,
            user=user,
            types=ruleset.types,
            duplicate_window=ruleset.duplicate_window,
            own=req.order,
            own_counted=own_counted,
            entitled=req.submitter_entitled,
            reads=reads_done,
            fetched=fetched,
        )
        ctx.market_band_pct = ruleset.market_band(ctx)
        pre = []
        switch = kill_switch_check(
            switches=ctx.kill_switches,
            side=intent.side,
            quantity=intent.quantity,
            position=ctx.position,
            working_buy=ctx.working_buy,
            working_sell=ctx.working_sell,
        )
        if switch is not None:
            pre.append(switch)
        status, checks = engine.evaluate(ruleset, ctx, pre_checks=pre)
    except DatabaseError:
        metrics.RISK_CHECK_FAILURES.labels("database_error").inc()
        raise
    except Exception:  # noqa: BLE001 - fail closed, with the reason logged
        logger.exception("pre-trade evaluation failed")
        status, ctx = engine.REJECTED, None
        checks = _gate_error("The pre-trade check failed; rejected.", "evaluation_error")
    metrics.pretrade_observe(decision=status, checks=checks, seconds=time.perf_counter() - started)
    return status, checks, ctx


def _replay_or_conflict(found: list[tuple], client_order_id: str, digest: str) -> Order | None:
    """The order already sent with this client_order_id (from `reads.order_by_client_id`)."""
    if not found:
        return None
    order_id, existing_digest = found[0]
    if existing_digest != digest:  # an order made elsewhere has no digest: a conflict
        raise Conflict(
            "This client_order_id was already used with a different order.",
            code="client_order_id_reused",
            details={"client_order_id": client_order_id, "order_id": order_id},
        )
    return Order.objects.get(pk=order_id)


def _hold_ttl(checks: list[dict], ruleset: engine.RuleSet) -> int | None:
    by_code = {r.code: r for r in ruleset.rules}
    ttls = [
        by_code[c["rule"]].params.get("ttl_seconds")
        for c in checks
        if c["status"] == "fail" and c["action"] == "hold" and c["rule"] in by_code
    ]
    ttls = [t for t in ttls if t]
    return min(ttls) if ttls else None


@dataclass(frozen=True)
class _Prefetched:
    ruleset: engine.RuleSet
    intent: OrderIntent
    reads: ContextReads
    fetched: list[list[tuple]]


# What of the account the context reads are built from: when the locked row differs there, the
# reads are sent again from it.
_READ_FIELDS = ("code", "base_currency", "beneficial_owner_id", "credit_limit", "is_market_maker")


def order_submit(*, req: OrderRequest, user) -> GateAnswer:
    """Decide and record one order. The same (account, client_order_id) and body again returns
    the first answer and creates nothing; the same id with another body is a 409. A database
    error rolls everything back and reaches the client as a 503: nothing is accepted.

    Round trips (PostgreSQL): one batch takes the account's lock and reads, under it, the
    client_order_id, the rule set's version, the version of the reference data the request
    read from the process's cache (token, user, account, instrument: `refcache.Stale` when it
    moved, and the view runs again on fresh reads), a key for the order and the whole context the
    cached rule set needs (kill switches and reference prices included: read fresh on every
    order); the order's writes then go behind, with its audit event's first statement. When
    the rule set's version moved (or the account changed) since the reads were built, they are
    sent again, from the new rule set and the locked row."""
    digest = request_digest(req.body)
    with transaction.atomic(), sql.write_behind():
        cached = _cache["ruleset"]
        intent = order_intent(req, user)
        planned = None
        statements = [
            # The account's lock first (the batch runs in order), then what is read under it.
            reads.account_locked(req.account.pk),
            reads.order_by_client_id(req.account.pk, req.client_order_id),
            reads.ruleset_version(),
            # The version the request's cached token, user, account and instrument stand for.
            refcache.version_statement(),
        ]
        keyed = sql.deferring()  # a key now: the order's rows can then be written behind
        if keyed:
            statements.append(sql.next_id_statement(Order))
        if cached is not None:
            planned = context_reads(
                intent,
                account=req.account,
                user=user,
                types=cached.types,
                duplicate_window=cached.duplicate_window,
                entitled=req.submitter_entitled,
            )
            statements += planned.statements
        found = sql.batch(statements)
        locked, sent, version, reference = found[:4]
        refcache.verify(refcache.version_of(reference))
        order_id = found[4][0][0] if keyed else None
        if not locked:
            raise NotFound("Unknown account.", code="account_not_found")
        account = sql.as_instances(Account, locked)[0]
        existing = _replay_or_conflict(sent, req.client_order_id, digest)
        if existing is not None:
            # The first answer: the decision its checks gave, whatever happened since.
            first = engine.decide(existing.checks)
            return GateAnswer(existing, first, existing.checks, replayed=True)
        ruleset_version = version[0][0] if version else 0
        prefetched = None
        if (
            planned is not None
            and cached.version == ruleset_version
            and all(getattr(account, f) == getattr(req.account, f) for f in _READ_FIELDS)
        ):
            prefetched = _Prefetched(cached, intent, planned, found[4 + keyed :])
        status, checks, ctx = evaluate_request(
            req, user, account=account, ruleset_version=ruleset_version, prefetched=prefetched
        )
        order = order_record(
            order_id=order_id,
            account=account,
            instrument=req.instrument,
            client_order_id=req.client_order_id,
            side=req.side,
            order_type=req.order_type,
            quantity=req.quantity,
            limit_price=req.limit_price,
            time_in_force=req.time_in_force,
            metadata=req.metadata,
            submitted_by=user,
            status=status,
            reference_price=ctx.reference_price if ctx else None,
            market_band_pct=ctx.market_band_pct if ctx else None,
            checks=checks,
            request_digest=digest,
            check_duplicate=False,  # checked above, under the account's lock
            checked=True,  # the fields and terms, by the order API (apps.rules.apis.order_request)
            expire_at=req.expire_at,
            locate_id=_locate_of(ctx, req.instrument),
        )
        if status == engine.PENDING:
            held = [c for c in checks if c["status"] == "fail" and c["action"] == "hold"]
            approval_request_create(
                order=order,
                rules=held,
                actor=user,
                ttl_seconds=_hold_ttl(checks, ruleset_current(ruleset_version)),
            )
        return GateAnswer(order, status, checks)


def _locate_of(ctx: CheckContext | None, instrument: Instrument) -> int | None:
    """The account's locate of this instrument that the order names, as the gate read it."""
    locate = ctx.locate if ctx is not None else None
    return locate.id if locate is not None and locate.instrument_id == instrument.pk else None


def order_check(*, req: OrderRequest, user) -> GateAnswer:
    """The dry run: the same evaluation, nothing stored."""
    with transaction.atomic():
        status, checks, _ctx = evaluate_request(req, user, account=req.account)
        transaction.set_rollback(True)
    return GateAnswer(None, status, checks)


def _amount_or_none(amount) -> Decimal | None:
    return Decimal(amount) if amount not in (None, "") else None


def order_amend_gated(*, order: Order, quantity=None, limit_price=None, user) -> GateAnswer:
    """Amend only if the amended order passes the gate; a held or rejected amendment leaves
    the order as it was (an amendment is not queued for approval)."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=order.account_id)
        order = Order.objects.select_related("account", "instrument__underlying").get(pk=order.pk)
        if order.status not in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            # Final orders cannot change; a held order is amended by cancelling and resending,
            # so that its approver never looks at figures that have moved.
            raise Conflict(
                f"An order that is {order.status} cannot be amended.",
                code="order_not_amendable",
                details={"status": order.status},
            )
        req = OrderRequest.from_order(
            order,
            account=account,
            quantity=_amount_or_none(quantity),
            limit_price=_amount_or_none(limit_price),
        )
        status, checks, _ctx = evaluate_request(req, user, account=account)
        # Counted whether it is applied or refused: the message limits count what is sent.
        order_message_record(order=order, kind=MessageKind.AMEND, user=user)
        if status != engine.ACCEPTED:
            # The refusal is a decision too: recorded, with every rule's result.
            audit_record(
                event_type=EventType.ORDER_AMENDED,
                actor=user,
                object_type="trading.order",
                object_id=order.pk,
                payload={
                    trail.ORDER: order_snapshot(order),
                    "amended": False,
                    "decision": status,
                    "requested": {"quantity": req.quantity, "limit_price": req.limit_price},
                    "checks": checks,
                },
            )
            return GateAnswer(order, status, checks)
        amended = order_amend(
            order=order,
            quantity=quantity,
            limit_price=limit_price,
            actor=user,
            audit_extra={"amended": True, "decision": status, "checks": checks},
        )
        return GateAnswer(amended, engine.ACCEPTED, checks)
