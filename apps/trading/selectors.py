"""Reads. Every list a user sees goes through here; each takes the acting user."""

from django.db.models import OuterRef, QuerySet, Subquery

from apps.core import sql
from apps.trading.models import Account, Instrument, Order, Position, ReferencePrice


def latest_price_subquery(field: str = "price", *, instrument_ref: str = "pk") -> Subquery:
    """The latest reference price (or its `field`) of the instrument that `instrument_ref`
    names in the outer query."""
    latest = ReferencePrice.objects.filter(instrument=OuterRef(instrument_ref)).order_by(
        "-as_of", "-id"
    )
    return Subquery(latest.values(field)[:1])


def account_list(*, user) -> QuerySet[Account]:
    return Account.objects.all()


def instrument_list(*, user) -> QuerySet[Instrument]:
    """Instruments with their latest reference price and its time, in one query."""
    return Instrument.objects.select_related("underlying").annotate(
        latest_price=latest_price_subquery("price"),
        latest_price_as_of=latest_price_subquery("as_of"),
    )


def instrument_latest_price(instrument: Instrument) -> ReferencePrice | None:
    return instrument.reference_prices.order_by("-as_of", "-id").first()


def position_list(*, user) -> QuerySet[Position]:
    return Position.objects.select_related("account", "instrument")


def order_list(*, user) -> QuerySet[Order]:
    return Order.objects.select_related("account", "instrument", "submitted_by")


def account_get_by_code(code: str) -> Account | None:
    return sql.instance(Account, "code = %s", [code])


def instrument_get_by_symbol_or_isin(value: str) -> Instrument | None:
    """Symbol first; a 12-character value is also tried as an ISIN. The underlying, when there
    is one, comes attached. Plain SQL: every order submission passes here."""
    instrument = sql.instance(Instrument, "symbol = %s", [value])
    if instrument is None and len(value) == 12:
        instrument = sql.instance(Instrument, "isin = %s", [value.upper()])
    if instrument is not None and instrument.underlying_id is not None:
        instrument.underlying = sql.instance(Instrument, "id = %s", [instrument.underlying_id])
    return instrument
