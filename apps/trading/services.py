"""Writes for the trading domain: reference data and the order life (create, fill, cancel, amend).

Every service runs in one transaction and keeps the derived rows (position, working exposure)
right in that same transaction, so that limits read consistent numbers.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import canonical
from apps.audit.events import EventType
from apps.audit.services import audit_record, field_values, update_audited
from apps.core import sql
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed, field_errors
from apps.core.time import rfc3339, utcnow
from apps.core.types import check_notional, decimal_str, quantize, to_decimal
from apps.core.validation import clean_or_raise
from apps.rbac.services import IDENTITY_FIELDS, person_identity_save
from apps.trading import trail
from apps.trading.expiry import EXPIRES, expire_at_checked, order_expire_at
from apps.trading.hooks import fill_booked, fill_changed, held_order_ended
from apps.trading.models import (
    FILLABLE_STATUSES,
    WORKING_STATUSES,
    Account,
    AccountDailyActivity,
    AccountDailyFilled,
    AccountEntitlement,
    BeneficialOwner,
    ClientCategory,
    ClientPerson,
    CustomerRecord,
    DailyPrice,
    Fill,
    FillStatus,
    FxRate,
    Instrument,
    Liquidity,
    Locate,
    MessageKind,
    Order,
    OrderMessage,
    OrderStatus,
    OrderType,
    Position,
    ReferencePrice,
    Side,
    TimeInForce,
    TradingCapacity,
    WorkingExposure,
    firm_currency,
    is_sell,
    locate_ref,
    signed_quantity,
)
from apps.trading.owners import owner_name_key, owner_name_normalised
from apps.trading.pricing import (
    fill_price_bound,
    fill_price_within,
    notional,
    order_valuation_price,
    valuation_price,
)
from apps.trading.selectors import account_and_instrument
from apps.trading.trail import order_snapshot
from apps.trading.validators import lei_is_valid
from apps.trading.venues import OFF_VENUE, venue_problem

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
ONE = Decimal("1")
# A fill reported with a time this far ahead of our clock is refused (clock skew allowance).
FILL_FUTURE_SKEW = timedelta(minutes=5)
# A fill stamped this little before its order was stored is still taken: the venue's clock and
# ours may differ by up to a second (MiFID II RTS 25's tolerance outside high-frequency trading).
FILL_BEFORE_ORDER_SKEW = timedelta(seconds=1)
METADATA_MAX_BYTES = 16_384


ACCOUNT_FIELDS = [
    "code",
    "name",
    "beneficial_owner",
    "base_currency",
    "credit_limit",
    "lei",
    "trading_capacity",
    "decision_maker",
    "client_category",
    "webhook_url",
    "is_market_maker",
    "cat_fdid",
    "cat_account_holder_type",
    "large_trader_id",
    "is_active",
]
INSTRUMENT_FIELDS = [
    "symbol",
    "isin",
    "mic",
    "calendar",
    "name",
    "asset_class",
    "sector",
    "currency",
    "cfi",
    "issuer",
    "underlying",
    "lot_size",
    "tick_size",
    "multiplier",
    "mifir_reportable",
    "is_active",
]


def _config_created(instance, fields, actor) -> None:
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=instance._meta.label_lower,
        object_id=instance.pk,
        payload={"change": "created", "before": None, "after": field_values(instance, fields)},
    )


def _update_audited(instance, *, allowed: list[str], changes: dict[str, Any], actor):
    """Change a locked fresh copy of the row, recording before and after (`update_audited`)."""
    fresh = type(instance).objects.select_for_update().get(pk=instance.pk)
    return update_audited(
        fresh, changes=changes, actor=actor, allowed=allowed, payload={"change": "updated"}
    )


# --- reference data -----------------------------------------------------------------------------

OWNER_FIELDS = ["name", "lei"]


def beneficial_owner_name_check(name: Any, *, exclude_pk: int | None = None) -> tuple[str, str]:
    """(name as stored, comparison key) of a new owner name: a 400 when it is empty, or when
    another owner has it, however written ("Petrov, Nadia" is "Nadia Petrov")."""
    if not isinstance(name, str) or not owner_name_normalised(name):
        raise ValidationFailed(details=field_errors(name="Give the owner's name."))
    display, key = owner_name_normalised(name), owner_name_key(name)
    same = BeneficialOwner.objects.filter(name_key=key).exclude(pk=exclude_pk).first()
    if same is not None:
        raise ValidationFailed(
            details=field_errors(name=f"This is the owner {same.name!r} (#{same.pk}) already.")
        )
    return display, key


@transaction.atomic
def beneficial_owner_create(*, name: str, lei: str = "", actor=None) -> BeneficialOwner:
    display, key = beneficial_owner_name_check(name)
    owner = BeneficialOwner(name=display, name_key=key, lei=lei)
    clean_or_raise(owner)
    owner.save()
    _config_created(owner, OWNER_FIELDS, actor)
    return owner


@transaction.atomic
def beneficial_owner_update(*, owner: BeneficialOwner, actor=None, **changes) -> BeneficialOwner:
    if "name" in changes:
        changes["name"], changes["name_key"] = beneficial_owner_name_check(
            changes["name"], exclude_pk=owner.pk
        )
    return _update_audited(owner, allowed=[*OWNER_FIELDS, "name_key"], changes=changes, actor=actor)


def beneficial_owner_resolve(*, name: str, lei: str = "", actor=None) -> BeneficialOwner:
    """The owner with this name however written, created (with `lei`) when there is none."""
    found = BeneficialOwner.objects.filter(name_key=owner_name_key(name)).first()
    return found or beneficial_owner_create(name=name, lei=lei, actor=actor)


@transaction.atomic
def client_person_set(*, owner: BeneficialOwner, actor=None, **changes) -> ClientPerson:
    """Record who a beneficial owner who is a natural person is, for MiFIR (the client's
    national identifier or CONCAT). Personal data: the trail names the fields, not the values."""
    identity = ClientPerson.objects.select_for_update().filter(owner=owner).first() or ClientPerson(
        owner=owner
    )
    return person_identity_save(
        identity,
        changes=changes,
        allowed=IDENTITY_FIELDS,
        actor=actor,
        object_type="trading.clientperson",
    )


CUSTOMER_RECORD_FIELDS = [
    "legal_name",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "tax_id",
    "tax_id_kind",
]


@transaction.atomic
def customer_record_set(*, owner: BeneficialOwner, actor=None, **changes) -> CustomerRecord:
    """Record an owner's name, address and tax identifier as the blue sheets report them.
    Personal data: the trail names the fields, not the values."""
    for name in ("state", "country"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip().upper()
    record = CustomerRecord.objects.select_for_update().filter(
        owner=owner
    ).first() or CustomerRecord(owner=owner)
    return person_identity_save(
        record,
        changes=changes,
        allowed=CUSTOMER_RECORD_FIELDS,
        actor=actor,
        object_type="trading.customerrecord",
    )


def _owner(value: Any, actor) -> Any:
    """An account's owner given as an owner, or as a name (found or created)."""
    if isinstance(value, str):
        if not owner_name_normalised(value):
            raise ValidationFailed(details=field_errors(beneficial_owner="Give the owner."))
        return beneficial_owner_resolve(name=value, actor=actor)
    return value


@transaction.atomic
def account_create(
    *,
    code: str,
    name: str,
    beneficial_owner: BeneficialOwner | str,
    base_currency: str | None = None,
    credit_limit: Decimal = ZERO,
    lei: str = "",
    trading_capacity: str = TradingCapacity.DEAL,
    decision_maker: BeneficialOwner | None = None,
    webhook_url: str = "",
    webhook_secret: str = "",
    is_market_maker: bool = False,
    is_active: bool = True,
    client_category: str = ClientCategory.RETAIL,
    actor=None,
) -> Account:
    account = Account(
        code=code,
        name=name,
        beneficial_owner=_owner(beneficial_owner, actor),
        base_currency=base_currency or firm_currency(),
        credit_limit=to_decimal(credit_limit, field="credit_limit"),
        lei=lei,
        trading_capacity=trading_capacity,
        decision_maker=decision_maker,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        is_market_maker=is_market_maker,
        is_active=is_active,
        client_category=client_category,
    )
    clean_or_raise(account)
    account.save()
    _config_created(account, ACCOUNT_FIELDS, actor)
    return account


@transaction.atomic
def account_update(*, account: Account, actor=None, **changes) -> Account:
    if "beneficial_owner" in changes:
        changes["beneficial_owner"] = _owner(changes["beneficial_owner"], actor)
    if "webhook_secret" in changes:
        # The secret changes like any field but never appears in the trail.
        secret = changes.pop("webhook_secret")
        fresh = _update_audited(account, allowed=ACCOUNT_FIELDS, changes=changes, actor=actor)
        if secret != fresh.webhook_secret:
            fresh.webhook_secret = secret
            fresh.save(update_fields=["webhook_secret", "updated_at"])
            audit_record(
                event_type=EventType.CONFIG_CHANGED,
                actor=actor,
                object_type="trading.account",
                object_id=fresh.pk,
                payload={"change": "webhook_secret_rotated"},
            )
        return fresh
    return _update_audited(account, allowed=ACCOUNT_FIELDS, changes=changes, actor=actor)


# --- entitlements ----------------------------------------------------------------------------


@transaction.atomic
def entitlement_grant(*, user, account: Account, actor=None) -> AccountEntitlement:
    """Entitle `user` to `account` (see and trade it, as their role allows). Granting what is
    already granted changes nothing and records nothing."""
    existing = AccountEntitlement.objects.filter(user=user, account=account).first()
    if existing is not None:
        return existing
    granted_by = actor if getattr(actor, "pk", None) is not None else None  # a command: none
    entitlement = AccountEntitlement(user=user, account=account, granted_by=granted_by)
    clean_or_raise(entitlement)
    entitlement.save()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type="trading.accountentitlement",
        object_id=entitlement.pk,
        payload={
            "change": "entitlement_granted",
            "before": None,
            "after": {"user": user.get_username(), "account": account.code},
        },
    )
    return entitlement


@transaction.atomic
def entitlement_revoke(*, user, account: Account, actor=None) -> bool:
    """Take `account` away from `user`; False (and nothing recorded) when it was not granted.
    Their orders already working stay; new orders, fills, cancels and amendments on the
    account are refused from now on."""
    existing = (
        AccountEntitlement.objects.select_for_update().filter(user=user, account=account).first()
    )
    if existing is None:
        return False
    entitlement_id = existing.pk
    granted_by = existing.granted_by.get_username() if existing.granted_by_id else None
    existing.delete()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type="trading.accountentitlement",
        object_id=entitlement_id,
        payload={
            "change": "entitlement_revoked",
            "before": {
                "user": user.get_username(),
                "account": account.code,
                "granted_by": granted_by,
                "granted_at": existing.granted_at,
            },
            "after": None,
        },
    )
    return True


@transaction.atomic
def instrument_create(
    *,
    symbol: str,
    isin: str,
    mic: str,
    name: str,
    asset_class: str,
    sector: str,
    currency: str,
    cfi: str = "",
    issuer: str = "",
    underlying: Instrument | None = None,
    lot_size: Decimal = Decimal("1"),
    tick_size: Decimal = Decimal("0.01"),
    calendar: str = "",
    multiplier: Decimal = Decimal("1"),
    mifir_reportable: bool = False,
    actor=None,
) -> Instrument:
    instrument = Instrument(
        symbol=symbol,
        isin=isin,
        mic=mic,
        name=name,
        asset_class=asset_class,
        sector=sector,
        currency=currency,
        cfi=cfi,
        issuer=issuer,
        underlying=underlying,
        lot_size=to_decimal(lot_size, field="lot_size", positive=True),
        tick_size=to_decimal(tick_size, field="tick_size", positive=True),
        multiplier=to_decimal(multiplier, field="multiplier", positive=True),
        mifir_reportable=mifir_reportable,
        calendar=calendar,
    )
    clean_or_raise(instrument)
    instrument.save()
    _config_created(instrument, INSTRUMENT_FIELDS, actor)
    return instrument


@transaction.atomic
def instrument_update(*, instrument: Instrument, actor=None, **changes) -> Instrument:
    if "multiplier" in changes:
        changes["multiplier"] = to_decimal(changes["multiplier"], field="multiplier", positive=True)
    locked = Instrument.objects.select_for_update().filter(pk=instrument.pk)
    before, currency = locked.values_list("multiplier", "currency").get()
    if (
        changes.get("currency", currency) != currency
        and Order.objects.filter(instrument_id=instrument.pk, status__in=WORKING_STATUSES).exists()
    ):
        # Working exposure is kept in the instrument's currency: it would be misread.
        raise Conflict(
            "The instrument has working orders: its currency cannot change under them.",
            code="instrument_has_working_orders",
            details={"currency": currency},
        )
    updated = _update_audited(instrument, allowed=INSTRUMENT_FIELDS, changes=changes, actor=actor)
    if updated.multiplier != before:
        # A contract size changed (a corporate action adjusts one): what is still working is
        # worth something else now.
        _exposure_revalue(updated)
    return updated


def reference_price_build(
    *, instrument: Instrument, price, as_of: datetime | None = None, source: str = "manual"
) -> ReferencePrice:
    """A reference price checked as `reference_price_record` stores it, not saved (a proposed
    manual price is checked with it when proposed)."""
    as_of = as_of or utcnow()
    if not isinstance(as_of, datetime) or timezone.is_naive(as_of):
        raise ValidationFailed(details=field_errors(as_of="Give a time zone (UTC)."))
    row = ReferencePrice(
        instrument=instrument,
        price=to_decimal(price, field="price", positive=True),
        as_of=as_of,
        source=source,
    )
    clean_or_raise(row)
    return row


@transaction.atomic
def reference_price_record(
    *,
    instrument: Instrument,
    price,
    as_of: datetime | None = None,
    source: str = "manual",
    actor=None,
) -> ReferencePrice:
    row = reference_price_build(instrument=instrument, price=price, as_of=as_of, source=source)
    return _observation_saved(
        row, actor, change="reference_price", value="price", instrument=instrument.symbol
    )


def _observation_saved(row, actor, *, change: str, value: str, **about):
    """A price or rate observed at a moment (`as_of`, `source`): stored and audited
    with what it says (`value`: its field) and what it is about. `row` comes checked from
    its builder (`reference_price_build`, `fx_rate_build`)."""
    row.save()
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=row._meta.label_lower,
        object_id=row.pk,
        payload={
            "change": change,
            **about,
            "after": {value: getattr(row, value), "as_of": row.as_of, "source": row.source},
        },
    )
    return row


@transaction.atomic
def daily_prices_load(*, instrument: Instrument, bars: list[dict[str, Any]], actor=None) -> int:
    """Insert daily bars not already stored; returns how many were added."""
    have = set(DailyPrice.objects.filter(instrument=instrument).values_list("date", flat=True))
    rows = []
    for bar in bars:
        if bar["date"] in have:
            continue
        prices = [
            to_decimal(bar[k], field=k, positive=True) for k in ("open", "high", "low", "close")
        ]
        if bar["low"] > min(prices) or bar["high"] < max(prices):
            raise ValidationFailed(details=field_errors(low=f"{bar['date']}: low/high disagree."))
        rows.append(DailyPrice(instrument=instrument, **bar))
    DailyPrice.objects.bulk_create(rows, batch_size=500)
    if rows:
        audit_record(
            event_type=EventType.CONFIG_CHANGED,
            actor=actor,
            object_type="trading.instrument",
            object_id=instrument.pk,
            payload={
                "change": "daily_prices_loaded",
                "instrument": instrument.symbol,
                "count": len(rows),
                "first_date": min(r.date for r in rows),
                "last_date": max(r.date for r in rows),
            },
        )
    return len(rows)


@transaction.atomic
def fx_rate_record(
    *,
    base: str,
    quote: str,
    rate,
    as_of: datetime | None = None,
    source: str = "manual",
    actor=None,
) -> FxRate:
    """Record an exchange rate (one `base` buys `rate` of `quote`) as of a moment: an FX feed,
    a fixing typed in, the demo. Audited like a reference price."""
    row = fx_rate_build(base=base, quote=quote, rate=rate, as_of=as_of, source=source)
    return _observation_saved(row, actor, change="fx_rate", value="rate", pair=f"{base}/{quote}")


def fx_rate_build(
    *, base: str, quote: str, rate, as_of: datetime | None = None, source: str = "manual"
) -> FxRate:
    """An FX rate checked as `fx_rate_record` stores it, not saved (a proposed manual rate is
    checked with it when proposed)."""
    as_of = as_of or utcnow()
    if not isinstance(as_of, datetime) or timezone.is_naive(as_of):
        raise ValidationFailed(details=field_errors(as_of="Give a time with a time zone (UTC)."))
    if as_of > utcnow() + FILL_FUTURE_SKEW:
        raise ValidationFailed(details=field_errors(as_of="Lies in the future."))
    if base == quote:
        raise ValidationFailed(details=field_errors(quote="A rate is between two currencies."))
    row = FxRate(
        base=base,
        quote=quote,
        rate=to_decimal(rate, field="rate", positive=True),
        as_of=as_of,
        source=source,
    )
    clean_or_raise(row)
    return row


# --- positions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal
    average_cost: Decimal
    realised_pnl: Decimal


def position_after_fill(
    state: PositionState, signed_quantity: Decimal, price: Decimal, multiplier: Decimal = ONE
) -> PositionState:
    """The position after a fill (buy positive, sell negative), average-cost method.

    Adding to a position moves the average cost; reducing it realises P&L against the average
    cost and leaves the average unchanged; crossing zero realises the whole old position and
    opens the rest at the fill price. The average cost is a price (per unit, as fills are);
    the realised P&L is money: quantity x price move x the contract's `multiplier`.
    """
    qty, avg, realised = state.quantity, state.average_cost, state.realised_pnl
    if qty == 0 or (qty > 0) == (signed_quantity > 0):
        new_qty = qty + signed_quantity
        new_avg = quantize((abs(qty) * avg + abs(signed_quantity) * price) / abs(new_qty))
        return PositionState(new_qty, new_avg, realised)
    closed = min(abs(signed_quantity), abs(qty))
    direction = 1 if qty > 0 else -1
    realised = quantize(realised + notional(closed, price - avg, multiplier) * direction)
    new_qty = qty + signed_quantity
    if new_qty == 0:
        return PositionState(ZERO, ZERO, realised)
    if (new_qty > 0) == (qty > 0):
        return PositionState(new_qty, avg, realised)
    return PositionState(new_qty, quantize(price), realised)


def _position_for_update(account: Account, instrument: Instrument) -> Position:
    position, _ = Position.objects.select_for_update().get_or_create(
        account=account, instrument=instrument
    )
    return position


# --- working exposure ---------------------------------------------------------------------------


def _working_contribution(order: Order) -> tuple[Decimal, Decimal]:
    """The open quantity of a working order and its notional (nothing known: valued at zero)."""
    if order.status not in WORKING_STATUSES:
        return ZERO, ZERO
    remaining = order.quantity - order.filled_quantity
    price = order_valuation_price(order) or ZERO
    return remaining, quantize(notional(remaining, price, order.instrument.multiplier))


def _exposure_revalue(instrument: Instrument) -> None:
    """The working exposure of every account in `instrument`, valued again from its working
    orders (after its multiplier changed)."""
    sums: dict[tuple[int, bool], Decimal] = {}
    working = Order.objects.filter(instrument=instrument, status__in=WORKING_STATUSES)
    for order in working.select_for_update():
        order.instrument = instrument
        key = (order.account_id, not is_sell(order.side))
        sums[key] = sums.get(key, ZERO) + _working_contribution(order)[1]
    for row in WorkingExposure.objects.select_for_update().filter(instrument=instrument):
        row.buy_notional = sums.get((row.account_id, True), ZERO)
        row.sell_notional = sums.get((row.account_id, False), ZERO)
        row.save(update_fields=["buy_notional", "sell_notional", "updated_at"])


def _exposure_apply(
    order: Order, before: tuple[Decimal, Decimal], *, defer_write: bool = False
) -> None:
    after = _working_contribution(order)
    dq, dn = after[0] - before[0], after[1] - before[1]
    if dq == 0 and dn == 0:
        return
    if is_sell(order.side):
        changes = {"sell_quantity": dq, "sell_notional": dn}
    else:
        changes = {"buy_quantity": dq, "buy_notional": dn}
    _add_to_row(
        WorkingExposure,
        {"account_id": order.account_id, "instrument_id": order.instrument_id},
        changes,
        defer_write=defer_write,
    )


def _add_to_row(model, key: dict, increments: dict, *, defer_write: bool = False) -> None:
    """Add to counters of one row, locked; created at zero the first time. Plain SQL: every
    order passes here.

    PostgreSQL adds in one UPDATE, in exact numeric arithmetic. SQLite computes decimal columns
    in floating point, which would drift (and trip the non-negative constraints): there the row
    is read and the sums are done here in Decimal (SQLite has one writer at a time anyway).
    """
    if connection.vendor == "postgresql":
        sql.add_to(model(**key, **increments), list(key), list(increments), defer_write=defer_write)
        return
    fields = [model._meta.get_field(k) for k in key]
    where = " AND ".join(f"{sql.quote(f.column)} = %s" for f in fields)
    params = [f.get_db_prep_value(v, connection) for f, v in zip(fields, key.values(), strict=True)]
    row = sql.instance(model, where, params, lock=True)
    if row is None:
        row, _ = model.objects.select_for_update().get_or_create(**key)
    for name, value in increments.items():
        setattr(row, name, getattr(row, name) + value)
    names = list(increments)
    if hasattr(row, "updated_at"):
        names.append("updated_at")
    sql.update(row, names)


# --- the order life -----------------------------------------------------------------------------


def metadata_checked(metadata: Any) -> dict:
    """Client metadata is kept in the audit trail: plain JSON, no floats (send decimals as
    strings), no NUL characters (PostgreSQL cannot store them), bounded in size."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationFailed(details=field_errors(metadata="Must be a JSON object."))
    try:
        canonical.check(metadata, "metadata")
    except canonical.CanonicalError as exc:
        raise ValidationFailed(details=field_errors(metadata=str(exc))) from None
    encoded = canonical.canonical_bytes_unchecked(metadata)
    if len(encoded) > METADATA_MAX_BYTES:
        raise ValidationFailed(
            details=field_errors(metadata=f"At most {METADATA_MAX_BYTES} bytes of JSON.")
        )
    capacity = metadata.get("trading_capacity")
    if capacity is not None and capacity not in TradingCapacity.values:
        raise ValidationFailed(
            details=field_errors(
                metadata=f"trading_capacity is one of {', '.join(TradingCapacity.values)}."
            )
        )
    if b"\\u0000" in encoded and _has_nul(metadata):  # the encoding escapes NUL as \u0000
        raise ValidationFailed(details=field_errors(metadata="Must not contain NUL characters."))
    return metadata


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def order_terms_check(
    *,
    account: Account | None,
    instrument: Instrument | None,
    order_type: str,
    quantity: Decimal,
    limit_price: Decimal | None,
) -> None:
    """The domain checks of a new order, every error at once (a 400 that stores nothing): the
    account and the instrument exist (None: unknown) and are active, a limit order has a limit
    price and a market order none, and quantity times the limit price fits the amount columns.
    The order API runs them (`order_terms_resolve`) before the gate; `order_create` runs them
    for every other caller."""
    errors: dict[str, list[str]] = {}
    if account is None:
        errors["account"] = ["Unknown account."]
    elif not account.is_active:
        errors["account"] = ["Account is not active."]
    if instrument is None:
        errors["instrument"] = ["Unknown instrument (give a symbol or an ISIN)."]
    elif not instrument.is_active:
        errors["instrument"] = ["Instrument is not active."]
    if order_type == OrderType.LIMIT and limit_price is None:
        errors["limit_price"] = ["A limit order needs a limit price."]
    if order_type == OrderType.MARKET and limit_price is not None:
        errors["limit_price"] = ["A market order has no limit price."]
    try:
        multiplier = instrument.multiplier if instrument is not None else Decimal(1)
        check_notional(quantity, limit_price, multiplier=multiplier)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(details=errors)


def entitlement_check(account: Account | None, user) -> None:
    """403 (`not_entitled`) when `user` may not trade `account` (read with
    `account_and_instrument(..., user=user)`, which sets `account.entitled`)."""
    if account is not None and user is not None and not getattr(account, "entitled", False):
        raise PermissionDenied(
            f"You are not entitled to trade account {account.code}.",
            code="not_entitled",
            details={"account": account.code},
        )


def order_terms_resolve(
    *,
    account: str,
    instrument: str,
    order_type: str,
    quantity: Decimal,
    limit_price: Decimal | None,
    user=None,
) -> tuple[Account, Instrument]:
    """The account (by code) and the instrument (by symbol, or ISIN) of a new order whose
    fields are well formed, once its terms pass `order_terms_check`. With `user` (the
    submitter), a 403 `not_entitled` when the account is not one of theirs: checked in the
    same statement that reads the account."""
    found_account, found_instrument = account_and_instrument(account, instrument, user=user)
    entitlement_check(found_account, user)
    order_terms_check(
        account=found_account,
        instrument=found_instrument,
        order_type=order_type,
        quantity=quantity,
        limit_price=limit_price,
    )
    return found_account, found_instrument


def account_and_instrument_known(
    account: str, instrument: str, *, user=None
) -> tuple[Account, Instrument]:
    """The account (by code) and the instrument (by symbol, or ISIN) that a record of a fact
    names (a drop copy, a locate): a 400 naming each one that is unknown. With `user`, a 403
    `not_entitled` when the account is not one of theirs."""
    found_account, found_instrument = account_and_instrument(account, instrument, user=user)
    entitlement_check(found_account, user)
    errors = {}
    if found_account is None:
        errors["account"] = ["Unknown account."]
    if found_instrument is None:
        errors["instrument"] = ["Unknown instrument (give a symbol or an ISIN)."]
    if errors:
        raise ValidationFailed(details=errors)
    return found_account, found_instrument


def order_locate_check(
    *, account: Account, instrument: Instrument, side: str, metadata: dict
) -> int | None:
    """The locate a short sale names, at the door: an id that cannot be one, or a locate of
    this account for another instrument, is a 400 that stores nothing. Returns the id of the
    account's locate of this instrument that the order names; None when it names none on
    record for the account (the gate judges that: `locate_missing`)."""
    if side != Side.SELL_SHORT:
        return None
    try:
        named = locate_ref(metadata)
    except ValueError as exc:
        raise ValidationFailed(details=field_errors(metadata=str(exc))) from None
    if named is None:
        return None
    found = (
        Locate.objects.filter(pk=named, account=account)
        .values_list("instrument_id", "instrument__symbol")
        .first()
    )
    if found is None:
        return None
    if found[0] != instrument.pk:
        raise ValidationFailed(
            "The locate named is for another instrument.",
            code="locate_instrument_mismatch",
            details=field_errors(
                metadata=f"locate_id {named} locates {found[1]}, not {instrument.symbol}."
            ),
        )
    return named


def _choice(value: Any, choices, field: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationFailed(details=field_errors(**{field: f"Must be one of: {allowed}."}))
    return value


def order_record(
    *,
    account: Account,
    instrument: Instrument,
    client_order_id: str,
    side: str,
    order_type: str,
    quantity,
    limit_price=None,
    time_in_force: str = "day",
    metadata: dict | None = None,
    submitted_by=None,
    status: str = OrderStatus.ACCEPTED,
    reference_price: Decimal | None = None,
    market_band_pct: Decimal | None = None,
    checks: list | None = None,
    request_digest: str = "",
    audit_extra: dict | None = None,
    check_duplicate: bool = True,
    checked: bool = False,
    expire_at: datetime | None = None,
    locate_id: int | None = None,
    order_id: int | None = None,
) -> Order:
    """Store an order in its decided status (the gate decides; this records and books it), in
    the caller's transaction (`order_create`: in one of its own).

    `order_id`: a key taken beforehand (`sql.next_id_statement`, read in the gate's batch):
    inside `sql.write_behind` the order's rows are then written behind, with the next
    statement (its audit event's), instead of one round trip each.

    `checked`: the fields were validated and the terms checked before (`metadata_checked`,
    `order_terms_check`, `expire_at_checked`, `order_locate_check`), as the order API does
    before the gate evaluates; so they are not checked twice. Every other caller leaves it False.

    `expire_at`: a gtd order's expiry; every order's `expire_at` is set here from its time in
    force (`apps.trading.expiry`).

    `market_band_pct`: a market order's protection band, as the gate found it in the price
    collar rules (kept on the order: its fills are held to the protected price).

    `locate_id`: the account's locate of this instrument that a short sale names (the gate
    read it); unchecked, it is looked up here."""
    if status not in (OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.PENDING_APPROVAL):
        raise ValidationFailed(details=field_errors(status="Not a submission status."))
    if not checked:
        side = _choice(side, Side, "side")
        order_type = _choice(order_type, OrderType, "order_type")
        time_in_force = _choice(time_in_force, TimeInForce, "time_in_force")
        quantity = to_decimal(quantity, field="quantity", positive=True)
        limit_price = (
            None
            if limit_price in (None, "")
            else to_decimal(limit_price, field="limit_price", positive=True)
        )
        order_terms_check(
            account=account,
            instrument=instrument,
            order_type=order_type,
            quantity=quantity,
            limit_price=limit_price,
        )
        metadata = metadata_checked(metadata)
        expire_at = expire_at_checked(time_in_force=time_in_force, expire_at=expire_at)
        if locate_id is None:
            locate_id = order_locate_check(
                account=account, instrument=instrument, side=side, metadata=metadata
            )
    if order_type != OrderType.MARKET:
        market_band_pct = None
    # A market order is valued at its protected price: its notional must fit the columns too.
    check_notional(
        quantity,
        valuation_price(limit_price, reference_price, side=side, band_pct=market_band_pct),
        multiplier=instrument.multiplier,
    )
    order = Order(
        id=order_id,
        account=account,
        instrument=instrument,
        submitted_by=submitted_by,
        client_order_id=client_order_id,
        side=side,
        order_type=order_type,
        time_in_force=time_in_force,
        quantity=quantity,
        limit_price=limit_price,
        status=status,
        reference_price=reference_price,
        market_band_pct=market_band_pct,
        metadata=metadata or {},
        locate_id=locate_id,
        checks=checks or [],
        request_digest=request_digest,
        expire_at=order_expire_at(
            time_in_force=time_in_force,
            calendar=instrument.calendar_code,
            submitted_at=utcnow(),
            expire_at=expire_at,
        ),
    )
    clean_or_raise(
        order, exclude=["account", "instrument", "submitted_by", "locate"], constraints=False
    )
    duplicate = check_duplicate and (
        Order.objects.filter(account=account, client_order_id=client_order_id).exists()
    )
    if duplicate:
        raise Conflict(
            "This client_order_id is already used on this account.",
            code="duplicate_client_order_id",
            details={"client_order_id": client_order_id},
        )
    behind = order_id is not None
    sql.insert(order, defer_write=behind)
    _exposure_apply(order, (ZERO, ZERO), defer_write=behind)
    _daily_add(account.pk, defer_write=behind, orders_submitted=1)
    order_message_record(
        order=order,
        kind=MessageKind.NEW,
        user=submitted_by,
        at=order.created_at,
        defer_write=behind,
    )
    event = (
        EventType.ORDER_REJECTED if status == OrderStatus.REJECTED else EventType.ORDER_SUBMITTED
    )
    _order_event(
        event,
        order,
        submitted_by,
        metadata=order.metadata,
        checks=order.checks,
        **(audit_extra or {}),
    )
    return order


order_create = transaction.atomic(order_record)  # a transaction (or savepoint) of its own


def _order_event(event_type: EventType, order: Order, actor, **extra) -> None:
    """An order event: the order as it stands (apps.trading.trail) and what the step adds."""
    audit_record(
        event_type=event_type,
        actor=actor,
        object_type="trading.order",
        object_id=order.pk,
        payload={trail.ORDER: order_snapshot(order), **extra},
    )


def _daily_add(account_id: int, *, defer_write: bool = False, **increments) -> None:
    """Add to today's counters of an account (UTC day), creating the row when needed."""
    _add_to_row(
        AccountDailyActivity,
        {"account_id": account_id, "date": utcnow().date()},
        increments,
        defer_write=defer_write,
    )


def _daily_filled_add(order: Order, quantity: Decimal, price: Decimal) -> None:
    """Add a fill's notional to today's (UTC) filled notional of its account, in the
    instrument's currency."""
    instrument = order.instrument
    _add_to_row(
        AccountDailyFilled,
        {"account_id": order.account_id, "date": utcnow().date(), "currency": instrument.currency},
        {"filled_notional": quantize(notional(quantity, price, instrument.multiplier))},
    )


def _order_for_update(order: Order) -> Order:
    return (
        Order.objects.select_for_update().select_related("account", "instrument").get(pk=order.pk)
    )


@transaction.atomic
def order_fill(
    *,
    order: Order,
    exec_id: str,
    quantity,
    price,
    venue: str,
    executed_at: datetime,
    liquidity: str,
    commission=ZERO,
    counterparty_lei: str = "",
    actor=None,
) -> tuple[Fill, Position]:
    """Book an execution: the fill, the order's filled quantity and status, the position.

    A fill is a fact checked at the door (`fill_terms_check`): one that its order could not have
    had is a 400 with every reason, and nothing is stored. Reports already built for the day it
    was executed are marked for a re-run (`fill_booked`)."""
    quantity = to_decimal(quantity, field="quantity", positive=True)
    price = to_decimal(price, field="price", positive=True)
    check_notional(quantity, price)
    commission = to_decimal(commission, field="commission")
    if commission < 0:
        raise ValidationFailed(details=field_errors(commission="Must not be negative."))
    liquidity = _choice(liquidity, Liquidity, "liquidity")
    if not isinstance(executed_at, datetime) or timezone.is_naive(executed_at):
        raise ValidationFailed(details=field_errors(executed_at="A time with a time zone."))

    existing = Fill.objects.filter(exec_id=exec_id).first()
    if existing is not None:
        raise Conflict(
            "A fill with this exec_id is already booked.",
            code="duplicate_exec_id",
            details={"exec_id": exec_id, "fill_id": existing.pk},
        )
    order = _order_for_update(order)
    check_notional(quantity, price, multiplier=order.instrument.multiplier)
    if order.status not in FILLABLE_STATUSES:
        raise Conflict(
            f"An order that is {order.status} cannot be filled.",
            code="order_not_fillable",
            details={"status": order.status},
        )
    fill_terms_check(
        order=order,
        quantity=quantity,
        price=price,
        venue=venue,
        executed_at=executed_at,
        now=utcnow(),
        counterparty_lei=counterparty_lei,
    )
    fill = Fill(
        order=order,
        exec_id=exec_id,
        quantity=quantity,
        price=price,
        venue=venue,
        executed_at=executed_at,
        commission=commission,
        liquidity=liquidity,
        counterparty_lei=counterparty_lei or "",
    )
    clean_or_raise(fill, exclude=["order"], constraints=False)
    fill.save()

    before = _working_contribution(order)
    filled = order.filled_quantity + quantity
    # From the fills themselves, not the rounded previous average, so rounding never piles up.
    traded_value = sum(
        (
            q * p
            for q, p in Fill.objects.filter(order=order, status=FillStatus.ACTIVE).values_list(
                "quantity", "price"
            )
        ),
        ZERO,
    )
    order.avg_fill_price = quantize(traded_value / filled)
    order.filled_quantity = filled
    order.status = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
    order.save(update_fields=["filled_quantity", "avg_fill_price", "status", "updated_at"])
    _exposure_apply(order, before)
    _daily_filled_add(order, quantity, price)

    position = _position_for_update(order.account, order.instrument)
    signed = signed_quantity(order.side, quantity)
    before_position = PositionState(position.quantity, position.average_cost, position.realised_pnl)
    state = position_after_fill(before_position, signed, price, order.instrument.multiplier)
    position.quantity = state.quantity
    position.average_cost = state.average_cost
    position.realised_pnl = state.realised_pnl
    position.save(update_fields=["quantity", "average_cost", "realised_pnl", "updated_at"])
    # Before this fill's own events: reports are locked before the audit chain's head, in the
    # order their filing and generation take them too (no deadlock between them).
    fill_booked(fill=fill, actor=actor)
    _order_event(EventType.ORDER_FILLED, order, actor, **{trail.FILL: trail.fill_record(fill)})
    audit_record(
        event_type=EventType.POSITION_CHANGED,
        actor=actor,
        object_type="trading.position",
        object_id=position.pk,
        payload=trail.position_change(order=order, fill=fill, before=before_position, after=state),
    )
    return fill, position


# --- corrections and busts ----------------------------------------------------------------------


def _fixer_checked(actor, reason: Any) -> str:
    from apps.rbac.access import require_role
    from apps.rbac.roles import Role

    require_role(actor, Role.COMPLIANCE_OFFICER, "correct or bust fills")
    if not isinstance(reason, str) or not reason.strip() or "\x00" in reason:
        raise ValidationFailed(details=field_errors(reason="Say why (required)."))
    if len(reason) > 500:
        raise ValidationFailed(details=field_errors(reason="At most 500 characters."))
    return reason.strip()


def _fill_for_update(fill: Fill) -> tuple[Fill, Order]:
    """The order then the fill, locked (the order first, as booking a fill takes them). A
    busted fill cannot change again (409)."""
    order = _order_for_update(fill.order)
    locked = Fill.objects.select_for_update().get(pk=fill.pk)
    if locked.status == FillStatus.BUSTED:
        raise Conflict(
            "The fill is busted; it cannot change any more.",
            code="fill_busted",
            details={"fill_id": locked.pk, "exec_id": locked.exec_id},
        )
    return locked, order


def _order_after_fill_change(order: Order) -> None:
    """The order's filled quantity, average price and status from its active fills. A working
    or filled order reopens as far as its fills shrank; a canceled or expired one stays so."""
    before = _working_contribution(order)
    active = list(
        Fill.objects.filter(order=order, status=FillStatus.ACTIVE).values_list("quantity", "price")
    )
    filled = sum((q for q, _p in active), ZERO)
    value = sum((q * p for q, p in active), ZERO)
    order.filled_quantity = filled
    order.avg_fill_price = quantize(value / filled) if filled else None
    if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        if filled == order.quantity:
            order.status = OrderStatus.FILLED
        elif filled > 0:
            order.status = OrderStatus.PARTIALLY_FILLED
        else:
            order.status = OrderStatus.ACCEPTED
    order.save(update_fields=["filled_quantity", "avg_fill_price", "status", "updated_at"])
    _exposure_apply(order, before)


def _position_replayed(order: Order) -> tuple[Position, PositionState, PositionState]:
    """The account's position in the instrument replayed from its active fills, in the order
    they were booked (as the live position was built): a bust or correction then leaves it
    exactly as if the fill had never been, or had been booked as corrected."""
    position = _position_for_update(order.account, order.instrument)
    before = PositionState(position.quantity, position.average_cost, position.realised_pnl)
    state = PositionState(ZERO, ZERO, ZERO)
    fills = (
        Fill.objects.filter(
            order__account_id=order.account_id,
            order__instrument_id=order.instrument_id,
            status=FillStatus.ACTIVE,
        )
        .order_by("id")
        .values_list("order__side", "quantity", "price")
    )
    for side, quantity, price in fills.iterator(chunk_size=5000):
        state = position_after_fill(
            state, signed_quantity(side, quantity), price, order.instrument.multiplier
        )
    position.quantity = state.quantity
    position.average_cost = state.average_cost
    position.realised_pnl = state.realised_pnl
    position.save(update_fields=["quantity", "average_cost", "realised_pnl", "updated_at"])
    return position, before, state


def _daily_filled_adjust(order: Order, fill: Fill, delta: Decimal) -> None:
    """Move the filled notional of the day the fill was booked (UTC), where it was counted."""
    if delta == 0:
        return
    _add_to_row(
        AccountDailyFilled,
        {
            "account_id": order.account_id,
            "date": fill.created_at.astimezone(UTC).date(),
            "currency": order.instrument.currency,
        },
        {"filled_notional": delta},
    )


def _fill_change_recorded(
    event_type: EventType, *, fill: Fill, order: Order, before: dict, reason: str, actor
) -> Position:
    fill_changed(
        fill=fill,
        actor=actor,
        change="busted" if event_type == EventType.FILL_BUSTED else "corrected",
    )
    position, position_before, position_after = _position_replayed(order)
    audit_record(
        event_type=event_type,
        actor=actor,
        object_type="trading.fill",
        object_id=fill.pk,
        payload={
            trail.ORDER: order_snapshot(order),
            "before": before,
            "after": trail.fill_record(fill),
            "status": fill.status,
            "version": fill.version,
            "reason": reason,
        },
    )
    audit_record(
        event_type=EventType.POSITION_CHANGED,
        actor=actor,
        object_type="trading.position",
        object_id=position.pk,
        payload=trail.position_change(
            order=order, fill=fill, before=position_before, after=position_after
        ),
    )
    return position


@transaction.atomic
def fill_correct(*, fill: Fill, quantity, price, reason: str, actor) -> tuple[Fill, Position]:
    """Correct a booked fill's quantity and/or price (Compliance Officer): the order, its working
    exposure, the day's filled notional and the position follow, and the reports of its day are
    marked for a re-run (a MiFIR re-run then cancels the transaction and reports it anew). The
    first values are kept on the fill and both versions in the trail."""
    reason = _fixer_checked(actor, reason)
    quantity = to_decimal(quantity, field="quantity", positive=True)
    price = to_decimal(price, field="price", positive=True)
    check_notional(quantity, price)
    fill, order = _fill_for_update(fill)
    errors: dict[str, list[str]] = {}
    if quantity == fill.quantity and price == fill.price:
        raise ValidationFailed(
            "The correction changes nothing.",
            code="no_change",
            details={"quantity": ["Same as booked."], "price": ["Same as booked."]},
        )
    open_quantity = order.quantity - order.filled_quantity + fill.quantity
    if quantity > open_quantity:
        errors["quantity"] = [f"At most {decimal_str(open_quantity)} (the order's quantity)."]
    bound = fill_price_bound(order)
    if bound is not None and not fill_price_within(order.side, price, bound):
        errors["price"] = [
            f"{decimal_str(price)} is beyond the order's limit {decimal_str(bound)}."
        ]
    if errors:
        raise ValidationFailed("The correction does not fit its order.", details=errors)
    before = trail.fill_record(fill)
    multiplier = order.instrument.multiplier
    delta = quantize(notional(quantity, price, multiplier)) - quantize(
        notional(fill.quantity, fill.price, multiplier)
    )
    if fill.original_quantity is None:
        fill.original_quantity, fill.original_price = fill.quantity, fill.price
    fill.quantity, fill.price = quantity, price
    fill.version += 1
    fill.changed_at = utcnow()
    fill.change_reason = reason
    clean_or_raise(fill, exclude=["order"], constraints=False)
    fill.save(
        update_fields=[
            "quantity",
            "price",
            "version",
            "original_quantity",
            "original_price",
            "changed_at",
            "change_reason",
        ]
    )
    _order_after_fill_change(order)
    _daily_filled_adjust(order, fill, delta)
    position = _fill_change_recorded(
        EventType.FILL_CORRECTED, fill=fill, order=order, before=before, reason=reason, actor=actor
    )
    return fill, position


@transaction.atomic
def fill_bust(*, fill: Fill, reason: str, actor) -> tuple[Fill, Position]:
    """Bust a booked fill (Compliance Officer): it stays on record as `busted` and leaves the
    order's filled quantity, the working exposure, the day's filled notional, the position and
    every report built from it (a MiFIR re-run cancels its transaction)."""
    reason = _fixer_checked(actor, reason)
    fill, order = _fill_for_update(fill)
    before = trail.fill_record(fill)
    fill.status = FillStatus.BUSTED
    fill.changed_at = utcnow()
    fill.change_reason = reason
    fill.save(update_fields=["status", "changed_at", "change_reason"])
    _order_after_fill_change(order)
    _daily_filled_adjust(
        order, fill, -quantize(notional(fill.quantity, fill.price, order.instrument.multiplier))
    )
    position = _fill_change_recorded(
        EventType.FILL_BUSTED, fill=fill, order=order, before=before, reason=reason, actor=actor
    )
    return fill, position


def fill_terms_check(
    *,
    order: Order,
    quantity: Decimal,
    price: Decimal,
    venue: str,
    executed_at: datetime,
    now: datetime,
    counterparty_lei: str = "",
) -> None:
    """What a fill's values mean for its order, every error at once (a 400 that stores
    nothing): the price within the order's limit (a buy at or below it, a sell, of any sell
    side, at or above it; a market order's limit is its protected price), `executed_at` not
    before the order was stored (less `FILL_BEFORE_ORDER_SKEW`) nor after now (plus
    `FILL_FUTURE_SKEW`), the venue an ISO 10383 MIC in force that day (`apps.trading.venues`),
    the quantity within the order's open quantity."""
    errors: dict[str, list[str]] = {}
    bound = fill_price_bound(order)
    if bound is not None and not fill_price_within(order.side, price, bound):
        side = order.side.replace("_", " ")
        if order.limit_price is None:
            limit = (
                f"A market {side} protected at {decimal_str(bound)} (the reference "
                f"{decimal_str(order.reference_price)} moved {decimal_str(order.market_band_pct)}% "
                "against it)"
            )
        else:
            limit = f"A {side} limited at {decimal_str(bound)}"
        beyond = "below" if is_sell(order.side) else "above"
        errors["price"] = [f"{limit} cannot fill at {decimal_str(price)}, {beyond} its limit."]
    if executed_at < order.created_at - FILL_BEFORE_ORDER_SKEW:
        errors["executed_at"] = [
            f"{rfc3339(executed_at)} is before the order was submitted "
            f"({rfc3339(order.created_at)})."
        ]
    elif executed_at > now + FILL_FUTURE_SKEW:
        errors["executed_at"] = [
            f"{rfc3339(executed_at)} lies in the future (now {rfc3339(now)}; at most "
            f"{int(FILL_FUTURE_SKEW.total_seconds())}s of clock difference is allowed)."
        ]
    problem = venue_problem(venue, executed_at.date())
    if problem is not None:
        errors["venue"] = [problem]
    if counterparty_lei and not lei_is_valid(counterparty_lei):
        errors["counterparty_lei"] = [f"{counterparty_lei} is not a valid LEI (ISO 17442)."]
    elif venue == OFF_VENUE and order.instrument.mifir_reportable and not counterparty_lei:
        # MiFIR reports the other side of an OTC trade by its LEI (RTS 22 fields 7 and 16).
        errors["counterparty_lei"] = [
            "An off-venue (XOFF) execution of a MiFIR-reportable instrument names its "
            "counterparty's LEI."
        ]
    remaining = order.quantity - order.filled_quantity
    if quantity > remaining:
        errors["quantity"] = [f"At most {decimal_str(remaining)} of the order remains open."]
    elif order.time_in_force == TimeInForce.FOK and quantity != remaining:
        errors["quantity"] = [
            f"A fill-or-kill order fills in full ({decimal_str(remaining)}) or not at all."
        ]
    if errors:
        raise ValidationFailed("The fill does not fit its order.", details=errors)


@transaction.atomic
def order_cancel(
    *, order: Order, actor=None, reason: str = "", count_message: bool = True
) -> Order:
    """Cancel a working order. Never refused by a message limit (a cancel reduces risk), but
    counted as a message of the flow, unless `count_message` is False: a firm control (the kill
    switch) canceling on its own sends no message of the client's."""
    order = _order_for_update(order)
    if order.status not in WORKING_STATUSES:
        raise Conflict(
            f"An order that is {order.status} cannot be canceled.",
            code="order_not_cancelable",
            details={"status": order.status},
        )
    before = _working_contribution(order)
    held = order.status == OrderStatus.PENDING_APPROVAL
    order.status = OrderStatus.CANCELED
    order.save(update_fields=["status", "updated_at"])
    _exposure_apply(order, before)
    _daily_add(order.account_id, orders_canceled=1)
    if count_message:
        order_message_record(order=order, kind=MessageKind.CANCEL, user=actor)
    _order_event(EventType.ORDER_CANCELED, order, actor, reason=reason)
    if held:  # its approval request closes with it
        held_order_ended(order=order, actor=actor, reason=reason)
    return order


@transaction.atomic
def order_amend(
    *, order: Order, quantity=None, limit_price=None, actor=None, audit_extra: dict | None = None
) -> Order:
    """Change quantity and/or limit price of an accepted or partially filled order (the gate
    re-checks it first). A held order is not amended: it is canceled and sent again."""
    if quantity in (None, "") and limit_price in (None, ""):
        raise ValidationFailed("Give quantity, limit_price or both.")
    order = _order_for_update(order)
    if order.status not in FILLABLE_STATUSES:
        raise Conflict(
            f"An order that is {order.status} cannot be amended.",
            code="order_not_amendable",
            details={"status": order.status},
        )
    before = _working_contribution(order)
    previous = {"quantity": order.quantity, "limit_price": order.limit_price}
    fields = ["updated_at"]
    if quantity not in (None, ""):
        quantity = to_decimal(quantity, field="quantity", positive=True)
        if quantity <= order.filled_quantity:
            raise ValidationFailed(
                details=field_errors(
                    quantity=f"Must exceed the filled quantity ({order.filled_quantity})."
                )
            )
        order.quantity = quantity
        fields.append("quantity")
    if limit_price not in (None, ""):
        if order.order_type != OrderType.LIMIT:
            raise ValidationFailed(details=field_errors(limit_price="A market order has none."))
        order.limit_price = to_decimal(limit_price, field="limit_price", positive=True)
        fields.append("limit_price")
    check_notional(
        order.quantity, order_valuation_price(order), multiplier=order.instrument.multiplier
    )
    order.save(update_fields=fields)
    _exposure_apply(order, before)
    _order_event(
        EventType.ORDER_AMENDED,
        order,
        actor,
        before=previous,
        after={"quantity": order.quantity, "limit_price": order.limit_price},
        **(audit_extra or {}),
    )
    return order


_STATUS_EVENTS = {
    OrderStatus.ACCEPTED: EventType.ORDER_ACCEPTED,
    OrderStatus.REJECTED: EventType.ORDER_REJECTED,
    OrderStatus.EXPIRED: EventType.ORDER_EXPIRED,
    OrderStatus.CANCELED: EventType.ORDER_CANCELED,
}
_STATUS_MOVES = {
    OrderStatus.PENDING_APPROVAL: {
        OrderStatus.ACCEPTED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.CANCELED,
    },
    OrderStatus.ACCEPTED: {OrderStatus.EXPIRED, OrderStatus.CANCELED},
    OrderStatus.PARTIALLY_FILLED: {OrderStatus.EXPIRED, OrderStatus.CANCELED},
}


def order_status_set(
    *, order: Order, status: str, actor=None, reason: str = "", locked: bool = False
) -> Order:
    """Move an order along its lifecycle (approval decided, end of day expiry).

    A held order leaving `pending_approval` here closes its approval request, as a cancel does.

    `locked`: the caller's transaction already holds the order's lock, taken with its account
    and instrument as the order services take it (the approval services do): the order is not
    read again.
    """
    if locked:
        return _status_move(order, status, actor=actor, reason=reason)
    with transaction.atomic():
        return _status_move(_order_for_update(order), status, actor=actor, reason=reason)


def _status_move(order: Order, status: str, *, actor, reason: str) -> Order:
    if status not in _STATUS_MOVES.get(order.status, set()):
        raise Conflict(
            f"An order cannot go from {order.status} to {status}.",
            code="invalid_transition",
            details={"from": order.status, "to": status},
        )
    # No savepoint of its own: inside the caller's transaction, a failure fails all of it.
    with transaction.atomic(savepoint=False):
        before = _working_contribution(order)
        previous = order.status
        order.status = status
        order.save(update_fields=["status", "updated_at"])
        _exposure_apply(order, before)
        _order_event(
            _STATUS_EVENTS[status], order, actor, **{trail.PREVIOUS_STATUS: previous}, reason=reason
        )
        if previous == OrderStatus.PENDING_APPROVAL:
            # Its approval request closes with it, as on a cancel (a no-op when the approvals
            # app moves the order: it has closed the request first).
            held_order_ended(order=order, actor=actor, reason=reason)
    return order


# --- expiry by time in force --------------------------------------------------------------------


def order_expire(*, order_id: int, now: datetime | None = None, actor=None) -> Order | None:
    """Expire one order if it is still working and its `expire_at` has passed; None when it is
    not (filled, canceled or decided meanwhile, or not due). What is open of it stops counting
    as working exposure; a held order's approval request closes with it (`order_status_set`)."""
    now = now or utcnow()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("account", "instrument")
            .filter(pk=order_id)
            .first()
        )
        if order is None or order.status not in WORKING_STATUSES:
            return None
        if order.expire_at is None or order.expire_at > now:
            return None
        when = EXPIRES.get(order.time_in_force, "at its expire_at")
        reason = f"{order.time_in_force} order expired {when}"
        return order_status_set(
            order=order, status=OrderStatus.EXPIRED, actor=actor, reason=reason, locked=True
        )


def order_expire_due(*, now: datetime | None = None, actor=None) -> int:
    """Expire every working order (held ones too) whose `expire_at` has passed, each in its
    own transaction (the beat job and `manage.py expire_orders`); how many expired. An order
    that cannot be expired is logged and stays working, counted against the limits, until the
    next pass."""
    now = now or utcnow()
    due = Order.objects.filter(status__in=sorted(WORKING_STATUSES), expire_at__lte=now)
    expired = 0
    for pk in list(due.order_by("expire_at", "pk").values_list("pk", flat=True)):
        try:
            expired += order_expire(order_id=pk, now=now, actor=actor) is not None
        except Exception:  # noqa: BLE001 - one order's failure must not stop the others
            logger.exception("order %s could not be expired", pk)
    return expired


# --- locates (SEC Reg SHO 203(b)) ---------------------------------------------------------------


@transaction.atomic
def locate_record(
    *,
    account: Account,
    instrument: Instrument,
    lender: str,
    reference: str,
    quantity,
    expires_at: datetime,
    actor=None,
) -> Locate:
    """Record a locate: `lender` will lend `quantity` shares of the instrument to the account
    until `expires_at`. Short sales of the instrument on the account may then name it."""
    errors: dict[str, list[str]] = {}
    if not account.is_active:
        errors["account"] = ["Account is not active."]
    if not instrument.is_active:
        errors["instrument"] = ["Instrument is not active."]
    elif instrument.is_derivative:
        errors["instrument"] = ["Futures and options are written, not borrowed: no locate."]
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        errors["expires_at"] = ["A time with a time zone."]
    elif expires_at <= utcnow():
        errors["expires_at"] = ["Lies in the past: a locate is recorded before it expires."]
    try:
        quantity = to_decimal(quantity, field="quantity", positive=True)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(details=errors)
    locate = Locate(
        account=account,
        instrument=instrument,
        lender=(lender or "").strip(),
        reference=(reference or "").strip(),
        quantity=quantity,
        expires_at=expires_at,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    clean_or_raise(locate, exclude=["account", "instrument", "created_by"])
    locate.save()
    audit_record(
        event_type=EventType.LOCATE_RECORDED,
        actor=actor,
        object_type="trading.locate",
        object_id=locate.pk,
        payload={
            "account": account.code,
            "instrument": instrument.symbol,
            "lender": locate.lender,
            "reference": locate.reference,
            "quantity": locate.quantity,
            "expires_at": locate.expires_at,
        },
    )
    return locate


# --- the message flow ---------------------------------------------------------------------------


def order_message_record(
    *, order: Order, kind: str, user=None, at: datetime | None = None, defer_write: bool = False
) -> OrderMessage:
    """Count one message of the order flow (a new order, an amendment, a cancel) for the
    message limits, in the caller's transaction: one INSERT on the limits' index. `user` is
    who sent it (a system actor or none: counted for the account only). The trail records
    the message itself, in the event of the order step."""
    message = OrderMessage(
        account_id=order.account_id,
        user_id=user.pk if isinstance(user, AbstractBaseUser) else None,
        order_id=order.pk,
        kind=kind,
        sent_at=at or utcnow(),
    )
    # Written behind (`defer_write`, inside sql.write_behind), the row keeps no id: none is read.
    return sql.insert(message, defer_write=defer_write)
