"""The price that values an order, and the notional it gives, defined once.

Working exposure, the gate's notional and exposure figures, the amount-range check on what is
stored, the approval queue, monitoring, the reports and surveillance's charts all value an order
with these; none keeps a copy. (No SQL computes them: the gate reads the prices and calls these.)
A price is per unit of quantity (per share, per contract's underlying unit); an amount of money
is quantity x price x the instrument's multiplier (its contract size), in the instrument's
currency. Converting it to another currency is apps.trading.fx's, a step of its own, so that
the way an order is priced and the way its amount is converted compose.
"""

from decimal import Decimal


def valuation_price(limit_price: Decimal | None, reference_price: Decimal | None) -> Decimal | None:
    """The price that values an order: its limit price, else (a market order) the reference
    price; None when neither is known."""
    return limit_price if limit_price is not None else reference_price


def notional(quantity: Decimal, price: Decimal | None, multiplier: Decimal) -> Decimal | None:
    """What `quantity` at `price` is worth: quantity x price x multiplier (2,213 option
    contracts at 12.35 with 100 shares each: 2,733,055), in the instrument's currency; None when
    the price is unknown."""
    if price is None:
        return None
    return quantity * price * multiplier
