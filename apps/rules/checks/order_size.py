"""Order size: the quantity lies between a minimum and a maximum (and is a whole lot)."""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import BOOLEAN, DECIMAL, Param

PARAMS = (
    Param(
        "min_quantity",
        DECIMAL,
        "The smallest quantity of one order.",
        default="0",
        minimum=Decimal("0"),
        unit="quantity",
    ),
    Param(
        "max_quantity",
        DECIMAL,
        "The largest quantity of one order.",
        required=True,
        positive=True,
        unit="quantity",
        example="10000",
    ),
    Param(
        "whole_lots",
        BOOLEAN,
        "The quantity must be a whole number of lots.",
        default=True,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"min_quantity", "max_quantity", "whole_lots"})
    low = decimal_param(params, "min_quantity", default="0", minimum=Decimal(0))
    high = decimal_param(params, "max_quantity", positive=True)
    if low > high:
        raise ParameterError("min_quantity must not exceed max_quantity")
    whole = params.get("whole_lots", True)
    if not isinstance(whole, bool):
        raise ParameterError("whole_lots must be true or false")
    return {"min_quantity": str(low), "max_quantity": str(high), "whole_lots": whole}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    qty = ctx.order.quantity
    low, high = Decimal(params["min_quantity"]), Decimal(params["max_quantity"])
    if qty > high:
        return failed(
            "quantity_above_max",
            f"Quantity {fmt(qty)} exceeds the maximum {fmt(high)}.",
            fmt(qty),
            fmt(high),
        )
    if qty < low:
        return failed(
            "quantity_below_min",
            f"Quantity {fmt(qty)} is below the minimum {fmt(low)}.",
            fmt(qty),
            fmt(low),
        )
    lot = ctx.order.instrument.lot_size
    if params.get("whole_lots", True) and lot and qty % lot != 0:
        return failed(
            "quantity_not_whole_lots",
            f"Quantity {fmt(qty)} is not a multiple of the lot size {fmt(lot)}.",
            fmt(qty),
            fmt(lot),
        )
    return passed(f"Quantity {fmt(qty)} within {fmt(low)}..{fmt(high)}.", fmt(qty), fmt(high))
