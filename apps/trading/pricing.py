"""The price that values an order, and the notional it gives, defined once.

Working exposure, the gate's notional and exposure figures, the amount-range check on what is
stored, the approval queue, monitoring, the reports and surveillance's charts all value an order
with these; none keeps a copy. (No SQL computes them: the gate reads the prices and calls these.)
A price is per unit of quantity (per share, per contract's underlying unit); an amount of money
is quantity x price x the instrument's multiplier (its contract size), in the instrument's
currency. Converting it to another currency is apps.trading.fx's, a step of its own, so that
the way an order is priced and the way its amount is converted compose.

A market order has no limit, so it is valued at its protected price: the worst price it may
trade at, the reference price moved against it by its protection band (the price collar rule's
`market_band_pct`, recorded on the order as `market_band_pct`). Fills beyond that price are
refused at the door, so the protected price is the order's real worst case.
"""

from decimal import Decimal

from apps.trading.models import is_sell

HUNDRED = Decimal(100)


def protected_price(
    side: str, reference_price: Decimal | None, band_pct: Decimal | None
) -> Decimal | None:
    """The worst price of a market order: reference x (1 + band) for a buy, reference x
    (1 - band) for a sell; None when the reference is unknown. No band (None): the reference
    price itself (orders recorded before protection bands existed)."""
    if reference_price is None:
        return None
    if band_pct is None:
        return reference_price
    band = Decimal(band_pct) / HUNDRED
    return reference_price * (1 - band if is_sell(side) else 1 + band)


def valuation_price(
    limit_price: Decimal | None,
    reference_price: Decimal | None,
    *,
    side: str = "buy",
    band_pct: Decimal | None = None,
) -> Decimal | None:
    """The price that values an order: its limit price, else (a market order) its protected
    price (`protected_price`); None when neither is known."""
    if limit_price is not None:
        return limit_price
    return protected_price(side, reference_price, band_pct)


def order_valuation_price(order) -> Decimal | None:
    """`valuation_price` of a stored order (anything with `limit_price`, `reference_price`,
    `side` and `market_band_pct`)."""
    return valuation_price(
        order.limit_price,
        order.reference_price,
        side=order.side,
        band_pct=getattr(order, "market_band_pct", None),
    )


def fill_price_bound(order) -> Decimal | None:
    """The worst price a fill of a stored order may have: its limit, or for a market order its
    protected price. None when the order carries no bound: a market order recorded without a
    protection band (no price collar rule applied to it) or without a reference price."""
    if order.limit_price is not None:
        return order.limit_price
    band = getattr(order, "market_band_pct", None)
    if band is None or order.reference_price is None:
        return None
    return protected_price(order.side, order.reference_price, band)


def fill_price_within(side: str, price: Decimal, bound: Decimal) -> bool:
    """A buy fills at or below its bound, a sell (any sell side) at or above."""
    return price >= bound if is_sell(side) else price <= bound


def notional(quantity: Decimal, price: Decimal | None, multiplier: Decimal) -> Decimal | None:
    """What `quantity` at `price` is worth: quantity x price x multiplier (2,213 option
    contracts at 12.35 with 100 shares each: 2,733,055), in the instrument's currency; None when
    the price is unknown."""
    if price is None:
        return None
    return quantity * price * multiplier
