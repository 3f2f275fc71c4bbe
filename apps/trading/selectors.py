"""Reads. Every list a user sees goes through here. The accounts, positions, orders, fills and
locates lists take the acting user and show only the accounts they are entitled to (Risk
Manager and above: every account; `EntitledQuerySet.restrict`); reference data is the same for
everyone."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from apps.core import sql
from apps.rbac import refcache
from apps.trading.fx import FxTable
from apps.trading.models import (
    Account,
    AccountEntitlement,
    FxRate,
    Instrument,
    Locate,
    Order,
    OrderStatus,
    Position,
    ReferencePrice,
    sees_every_account,
)


def latest_price_subquery(field: str = "price", *, instrument_ref: str = "pk") -> Subquery:
    """The latest reference price (or its `field`) of the instrument that `instrument_ref`
    names in the outer query."""
    latest = ReferencePrice.objects.filter(instrument=OuterRef(instrument_ref)).order_by(
        "-as_of", "-id"
    )
    return Subquery(latest.values(field)[:1])


def account_list(*, user, action: str = "view") -> QuerySet[Account]:
    """The accounts `user` may `action` ("view" or "trade")."""
    return Account.objects.restrict(user, action).select_related("beneficial_owner")


def instrument_list() -> QuerySet[Instrument]:
    """Instruments with their latest reference price and its time, in one query (reference data:
    every role sees every instrument)."""
    return Instrument.objects.select_related("underlying").annotate(
        latest_price=latest_price_subquery("price"),
        latest_price_as_of=latest_price_subquery("as_of"),
    )


def instrument_latest_price(instrument: Instrument) -> ReferencePrice | None:
    return instrument.reference_prices.order_by("-as_of", "-id").first()


def position_list(*, user) -> QuerySet[Position]:
    """The positions of the accounts `user` may see."""
    return Position.objects.restrict(user).select_related("account", "instrument")


def order_list(*, user, action: str = "view") -> QuerySet[Order]:
    """The orders of the accounts `user` may `action` ("trade": fill, cancel, amend). An order
    outside them is not found (404): its existence is not revealed."""
    return Order.objects.restrict(user, action).select_related(
        "account", "instrument", "submitted_by"
    )


def entitled_account_codes(user) -> list[str] | None:
    """The codes of the accounts `user` is entitled to; None for Risk Manager and above (every
    account). For lists keyed by an account code rather than a row (kill switch targets)."""
    if sees_every_account(user):
        return None
    return list(Account.objects.restrict(user).values_list("code", flat=True))


def account_get_by_code(code: str) -> Account | None:
    return account_and_instrument(code, None)[0]


def instrument_get_by_symbol_or_isin(value: str) -> Instrument | None:
    return account_and_instrument(None, value)[1]


def _account_entitled_statement(code: str, user_id: int) -> sql.Statement:
    """The account by code, and whether the user is entitled to it as one more column: the
    entitlement costs no statement of its own on the order path."""
    statement, params, fields = sql.select_statement(Account, "code = %s", [code])
    table = sql.quote(Account._meta.db_table)
    entitlements = sql.quote(AccountEntitlement._meta.db_table)
    # Only quoted table names go into the text; the values are parameters.
    entitled = (
        f", EXISTS (SELECT 1 FROM {entitlements} e"  # noqa: S608
        f" WHERE e.account_id = {table}.id AND e.user_id = %s) FROM "
    )
    statement = statement.replace(" FROM ", entitled, 1)
    return statement, [user_id, *params], (*fields, None)


def account_and_instrument(
    code: str | None, instrument: str | None, *, user=None
) -> tuple[Account | None, Instrument | None]:
    """An account by code and an instrument by symbol, or else by ISIN (a 12-character value),
    with its underlying attached: one batch of plain SQL, as every order submission needs, or
    none when the process's reference cache holds them (apps.rbac.refcache; only a pair that
    was found, and entitled, is kept).

    With `user`, the account comes with `account.entitled`: whether the user may trade it
    (always True for Risk Manager and above), read in the same statement."""
    check = user is not None and code is not None and not sees_every_account(user)
    key = ("account_and_instrument", code, instrument, user is not None, user.pk if check else None)
    return refcache.lookup(
        key,
        lambda: _account_and_instrument_reads(code, instrument, user=user if check else None),
        lambda *found: _account_and_instrument_built(
            found, code, instrument, user=user, check=check
        ),
        keep=lambda found: _complete(found, code, instrument),
    )


def _account_and_instrument_reads(code, instrument, *, user) -> list[sql.Statement]:
    statements = []
    if code is not None:
        if user is not None:
            statements.append(_account_entitled_statement(code, user.pk))
        else:
            statements.append(sql.select_statement(Account, "code = %s", [code]))
    if instrument is not None:
        where = "symbol = %s"
        params = [instrument]
        if len(instrument) == 12:
            where += " OR isin = %s"
            params.append(instrument.upper())
        statements.append(sql.select_statement(Instrument, where, params))
    return statements


def _account_and_instrument_built(found, code, instrument, *, user, check: bool):
    found = list(found)
    rows = found.pop(0) if code is not None else []
    account = sql.as_instances(Account, [row[:-1] for row in rows] if check else rows)
    if account and user is not None:
        account[0].entitled = bool(rows[0][-1]) if check else True
    candidates = sql.as_instances(Instrument, found.pop(0)) if instrument is not None else []
    # The symbol wins over another instrument's ISIN.
    candidates.sort(key=lambda i: i.symbol != instrument)
    match = candidates[0] if candidates else None
    if match is not None and match.underlying_id is not None:
        match.underlying = sql.instance(Instrument, "id = %s", [match.underlying_id])
    return (account[0] if account else None), match


def _complete(found: tuple, code: str | None, instrument: str | None) -> bool:
    """Kept only when what was asked was found and the user (if any) is entitled: a refusal
    is always read afresh, so that an account opened or an entitlement granted a moment ago is
    seen."""
    account, match = found
    if code is not None and (account is None or not getattr(account, "entitled", True)):
        return False
    return instrument is None or match is not None


def account_webhook_secret(account_id: str) -> str:
    """The account's webhook signing secret ("" when none): fills notifications' hook."""
    row = Account.objects.filter(pk=account_id).values_list("webhook_secret", flat=True).first()
    return row or ""


def locate_list(*, user) -> QuerySet[Locate]:
    """The locates of the accounts `user` may see, with the orders that use each one in one
    more query (`Locate.used_quantity`)."""
    using = Order.objects.exclude(status=OrderStatus.REJECTED).only(
        "locate_id", "status", "quantity", "filled_quantity"
    )
    return (
        Locate.objects.restrict(user)
        .select_related("account", "instrument", "created_by")
        .prefetch_related(Prefetch("orders", queryset=using, to_attr="using_orders"))
    )


def fx_rate_list() -> QuerySet[FxRate]:
    """Every recorded FX rate, latest first (reference data: every role sees them)."""
    return FxRate.objects.all()


def fx_rate_latest_only(rates: QuerySet[FxRate]) -> QuerySet[FxRate]:
    """Of `rates`, the latest of each pair."""
    latest = FxRate.objects.filter(base=OuterRef("base"), quote=OuterRef("quote")).order_by(
        "-as_of", "-id"
    )
    return rates.filter(pk=Subquery(latest.values("pk")[:1]))


def fx_table(*, currencies: Iterable[str], at: datetime, max_age_seconds: int | None) -> FxTable:
    """The conversions between `currencies` (and the firm's currency) that the latest rates
    as of `at` allow (monitoring and reports; the gate reads its rates in its own batch)."""
    codes = sorted({*currencies, settings.FIRM_CURRENCY})
    rows = FxRate.objects.filter(base__in=codes, quote__in=codes, as_of__lte=at)
    latest = rows.filter(base=OuterRef("base"), quote=OuterRef("quote")).order_by("-as_of", "-id")
    found = rows.filter(pk=Subquery(latest.values("pk")[:1])).values_list(
        "base", "quote", "rate", "as_of"
    )
    return FxTable(found, now=at, max_age_seconds=max_age_seconds, via=settings.FIRM_CURRENCY)
