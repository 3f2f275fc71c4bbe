"""The price that values an order, defined once.

Working exposure, the gate's notional and exposure figures, the amount-range check on what is
stored, the approval queue and surveillance's charts all value an order with this; none keeps a
copy. (No SQL computes it: the gate reads both prices and calls this.)
"""

from decimal import Decimal


def valuation_price(limit_price: Decimal | None, reference_price: Decimal | None) -> Decimal | None:
    """The price that values an order: its limit price, else (a market order) the reference
    price; None when neither is known."""
    return limit_price if limit_price is not None else reference_price
