"""The trading data that changes only under maker-checker (apps.changes): an account's risk
limits, an instrument's economics, manual reference prices and FX rates.

Each kind checks a proposal with the same validation as its service and applies an approved one
through that service (validated and audited there). Registered when the app is ready.
"""

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime

from apps.audit.services import field_values
from apps.changes.registry import ChangeKind, register
from apps.core.errors import ValidationFailed, field_errors
from apps.core.types import to_decimal
from apps.core.validation import clean_or_raise
from apps.rbac.roles import Role
from apps.trading.models import Account, AccountEntitlement, FxRate, Instrument, ReferencePrice
from apps.trading.services import (
    account_update,
    entitlement_grant,
    entitlement_revoke,
    fx_rate_build,
    fx_rate_record,
    instrument_update,
    reference_price_build,
    reference_price_record,
)

# What the gate reads of an account: the credit line, the currency every limit is an amount
# in, and the market-maker exemption from the cancel-ratio rule.
ACCOUNT_LIMIT_FIELDS = ("credit_limit", "base_currency", "is_market_maker")
# What FINRA CAT reads of an account: its Firm Designated ID, account holder type and large
# trader id (a wrong one misreports every order of the account).
ACCOUNT_CAT_FIELDS = ("cat_fdid", "cat_account_holder_type", "large_trader_id")
# What every notional, lot and price check of an instrument is made of.
INSTRUMENT_ECONOMIC_FIELDS = ("multiplier", "currency", "lot_size", "tick_size")
AMOUNT_FIELDS = {"credit_limit", "multiplier", "lot_size", "tick_size"}


def _fields(row, names) -> dict[str, Any]:
    return field_values(row, names)


def _candidate(row, values: dict[str, Any], *, positive: set[str] = frozenset()):
    """An unsaved copy of `row` with `values`, validated as the model validates it."""
    candidate = copy.copy(row)
    for name, value in values.items():
        if name in AMOUNT_FIELDS:
            value = to_decimal(value, field=name, positive=name in positive)
        elif name == "is_market_maker" and not isinstance(value, bool):
            raise ValidationFailed(details=field_errors(**{name: "Must be true or false."}))
        elif name in ("currency", "base_currency") and not isinstance(value, str):
            raise ValidationFailed(details=field_errors(**{name: "Give an ISO 4217 code."}))
        setattr(candidate, name, value)
    clean_or_raise(candidate)
    return candidate


def _amounts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(v) if k in AMOUNT_FIELDS else v for k, v in values.items()}


def _time(values: dict[str, Any]) -> datetime | None:
    value = values.get("as_of")
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
    except ValueError:  # well formed, but no such day or hour
        parsed = None
    if parsed is None:
        raise ValidationFailed(
            details=field_errors(as_of="Not a date and time (ISO 8601 with a zone).")
        )
    return parsed


def _source(values: dict[str, Any]) -> str:
    source = values.get("source", "manual")
    if not isinstance(source, str) or not source.strip():
        raise ValidationFailed(details=field_errors(source="Say where it comes from."))
    return source.strip()


# --- account risk limits ------------------------------------------------------------------------


def _account_check(account: Account, values: dict[str, Any]) -> dict[str, Any]:
    candidate = _candidate(account, values)
    return _fields(candidate, values)


def _account_apply(account: Account, proposed: dict[str, Any], actor) -> Account:
    return account_update(account=account, actor=actor, **_amounts(proposed))


ACCOUNT_LIMITS = ChangeKind(
    name="account_limits",
    label="an account's risk limits",
    model="trading.account",
    target_model="trading.account",
    fields=ACCOUNT_LIMIT_FIELDS,
    propose_role=Role.RISK_MANAGER,
    approve_role=Role.RISK_MANAGER,
    resolve=lambda key: Account.objects.filter(code=key).first(),
    key=lambda account: account.code,
    check=_account_check,
    before=_fields,
    apply=_account_apply,
)


# --- an account's CAT identifiers -------------------------------------------------------------


def _cat_identifiers_check(account: Account, values: dict[str, Any]) -> dict[str, Any]:
    bad = [name for name, value in values.items() if not isinstance(value, str)]
    if bad:
        raise ValidationFailed(details=field_errors(**dict.fromkeys(bad, "Must be text.")))
    candidate = _candidate(account, {name: value.strip() for name, value in values.items()})
    return _fields(candidate, values)


def _cat_identifiers_apply(account: Account, proposed: dict[str, Any], actor) -> Account:
    return account_update(account=account, actor=actor, **proposed)


ACCOUNT_CAT_IDENTIFIERS = ChangeKind(
    name="account_cat_identifiers",
    label="an account's CAT identifiers (FDID, account holder type, LTID)",
    model="trading.account",
    target_model="trading.account",
    fields=ACCOUNT_CAT_FIELDS,
    propose_role=Role.COMPLIANCE_OFFICER,
    approve_role=Role.COMPLIANCE_OFFICER,
    resolve=lambda key: Account.objects.filter(code=key).first(),
    key=lambda account: account.code,
    check=_cat_identifiers_check,
    before=_fields,
    apply=_cat_identifiers_apply,
)


# --- instrument economics -----------------------------------------------------------------------


def _instrument_check(instrument: Instrument, values: dict[str, Any]) -> dict[str, Any]:
    candidate = _candidate(instrument, values, positive={"multiplier", "lot_size", "tick_size"})
    return _fields(candidate, values)


def _instrument_apply(instrument: Instrument, proposed: dict[str, Any], actor) -> Instrument:
    return instrument_update(instrument=instrument, actor=actor, **_amounts(proposed))


def _instrument(key: str) -> Instrument | None:
    return Instrument.objects.filter(symbol=key).first()


INSTRUMENT_ECONOMICS = ChangeKind(
    name="instrument_economics",
    label="an instrument's economics",
    model="trading.instrument",
    target_model="trading.instrument",
    fields=INSTRUMENT_ECONOMIC_FIELDS,
    propose_role=Role.COMPLIANCE_OFFICER,
    approve_role=Role.COMPLIANCE_OFFICER,
    resolve=_instrument,
    key=lambda instrument: instrument.symbol,
    check=_instrument_check,
    before=_fields,
    apply=_instrument_apply,
)


# --- manual reference prices --------------------------------------------------------------------

OBSERVED = ("as_of", "source")


def _price_check(instrument: Instrument, values: dict[str, Any]) -> dict[str, Any]:
    row = reference_price_build(
        instrument=instrument, price=values["price"], as_of=_time(values), source=_source(values)
    )
    return {"price": row.price, "as_of": row.as_of, "source": row.source}


def _price_before(instrument: Instrument, names) -> dict[str, Any] | None:
    """The latest price, shown beside the proposal (a fat finger shows)."""
    latest = ReferencePrice.objects.filter(instrument=instrument).order_by("-as_of").first()
    return _fields(latest, ["price", *OBSERVED]) if latest is not None else None


def _price_apply(instrument: Instrument, proposed: dict[str, Any], actor) -> ReferencePrice:
    return reference_price_record(
        instrument=instrument,
        price=Decimal(proposed["price"]),
        as_of=parse_datetime(proposed["as_of"]),
        source=proposed["source"],
        actor=actor,
    )


REFERENCE_PRICE = ChangeKind(
    name="reference_price",
    label="a manual reference price",
    model="trading.referenceprice",
    target_model="trading.instrument",
    fields=("price", *OBSERVED),
    required=("price",),
    propose_role=Role.COMPLIANCE_OFFICER,
    approve_role=Role.COMPLIANCE_OFFICER,
    resolve=_instrument,
    key=lambda instrument: instrument.symbol,
    check=_price_check,
    before=_price_before,
    apply=_price_apply,
    stale_checked=False,  # it adds a price; a newer one meanwhile does not make it wrong
    one_pending=False,
)


# --- manual FX rates ----------------------------------------------------------------------------


class Pair(NamedTuple):
    base: str
    quote: str


def _pair(key: str) -> Pair | None:
    """ "EUR/USD"; the codes themselves are checked with the rate (errors on base, quote)."""
    parts = key.split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return None
    return Pair(parts[0].strip(), parts[1].strip())


def _rate_check(pair: Pair, values: dict[str, Any]) -> dict[str, Any]:
    row = fx_rate_build(
        base=pair.base,
        quote=pair.quote,
        rate=values["rate"],
        as_of=_time(values),
        source=_source(values),
    )
    return {"rate": row.rate, "as_of": row.as_of, "source": row.source}


def _rate_before(pair: Pair, names) -> dict[str, Any] | None:
    latest = FxRate.objects.filter(base=pair.base, quote=pair.quote).order_by("-as_of").first()
    return _fields(latest, ["rate", *OBSERVED]) if latest is not None else None


def _rate_apply(pair: Pair, proposed: dict[str, Any], actor) -> FxRate:
    return fx_rate_record(
        base=pair.base,
        quote=pair.quote,
        rate=Decimal(proposed["rate"]),
        as_of=parse_datetime(proposed["as_of"]),
        source=proposed["source"],
        actor=actor,
    )


FX_RATE = ChangeKind(
    name="fx_rate",
    label="a manual FX rate",
    model="trading.fxrate",
    fields=("rate", *OBSERVED),
    required=("rate",),
    propose_role=Role.RISK_MANAGER,
    approve_role=Role.RISK_MANAGER,
    resolve=_pair,
    key=lambda pair: f"{pair.base}/{pair.quote}",
    check=_rate_check,
    before=_rate_before,
    apply=_rate_apply,
    stale_checked=False,
    one_pending=False,
)


# --- entitlements: who may see and trade which account --------------------------------------


class Entitlement(NamedTuple):
    user: Any
    account: Account


def _entitlement(key: str) -> Entitlement | None:
    """`username/ACC-001`: the user and the account, both known, else None."""
    username, _, code = key.partition("/")
    user = get_user_model().objects.filter(username=username).first() if username else None
    account = Account.objects.filter(code=code).first() if code else None
    return Entitlement(user, account) if user is not None and account is not None else None


def _entitled(target: Entitlement, names) -> dict[str, Any]:
    held = AccountEntitlement.objects.filter(user=target.user, account=target.account)
    return {"entitled": held.exists()}


def _entitlement_check(target: Entitlement, values: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(values["entitled"], bool):
        raise ValidationFailed(details=field_errors(entitled="Must be true or false."))
    return {"entitled": values["entitled"]}


def _entitlement_apply(target: Entitlement, proposed: dict[str, Any], actor):
    if proposed["entitled"]:
        return entitlement_grant(user=target.user, account=target.account, actor=actor)
    entitlement_revoke(user=target.user, account=target.account, actor=actor)
    return None


ENTITLEMENT = ChangeKind(
    name="entitlement",
    label="a user's entitlement to an account",
    model="trading.accountentitlement",
    fields=("entitled",),
    required=("entitled",),
    propose_role=Role.ADMIN,
    approve_role=Role.ADMIN,
    resolve=_entitlement,
    key=lambda t: f"{t.user.get_username()}/{t.account.code}",
    check=_entitlement_check,
    before=_entitled,
    apply=_entitlement_apply,
    concerns_user=lambda t: t.user,  # nobody approves their own entitlement
)


def register_trading_kinds() -> None:
    for kind in (
        ACCOUNT_LIMITS,
        ACCOUNT_CAT_IDENTIFIERS,
        INSTRUMENT_ECONOMICS,
        REFERENCE_PRICE,
        FX_RATE,
        ENTITLEMENT,
    ):
        register(kind)
