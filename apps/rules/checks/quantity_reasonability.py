"""Quantity reasonableness: the fat-finger bound (order_size is the desk's min/max rule)."""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import DECIMAL, Param

PARAMS = (
    Param(
        "max_quantity",
        DECIMAL,
        "The largest reasonable quantity of one order.",
        required=True,
        positive=True,
        unit="quantity",
        example="1000000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_quantity"})
    return {"max_quantity": str(decimal_param(params, "max_quantity", positive=True))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    qty, high = ctx.order.quantity, Decimal(params["max_quantity"])
    if qty <= 0 or qty > high:
        return failed(
            "quantity_unreasonable",
            f"Quantity {fmt(qty)} is not a reasonable quantity (at most {fmt(high)}).",
            fmt(qty),
            fmt(high),
        )
    lot = ctx.order.instrument.lot_size
    if lot and qty % lot != 0:
        return failed(
            "quantity_not_whole_lots",
            f"Quantity {fmt(qty)} is not a multiple of the lot size {fmt(lot)}.",
            fmt(qty),
            fmt(lot),
        )
    return passed(f"Quantity {fmt(qty)} at or below {fmt(high)}.", fmt(qty), fmt(high))
