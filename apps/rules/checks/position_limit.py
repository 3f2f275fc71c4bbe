"""Position limit: the worst-case position after this order, in quantity (contracts) and/or
value (quantity x price x multiplier, in the account's base currency)."""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    failed,
    fmt,
    one_or_more_limits,
    passed,
    unvalued,
)
from apps.rules.checks.params import DECIMAL, Param
from apps.trading.pricing import notional

LIMITS = ("max_quantity", "max_value")


PARAMS = (
    Param(
        "max_quantity",
        DECIMAL,
        "The largest position (long or short) after this order; give this, a value limit, or both.",
        positive=True,
        unit="quantity",
        example="50000",
    ),
    Param(
        "max_value",
        DECIMAL,
        "The largest position value after this order.",
        positive=True,
        unit="base currency",
        example="2000000",
    ),
)


def validate(params: dict) -> dict:
    return one_or_more_limits(params, LIMITS)


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    symbol = ctx.order.instrument.symbol
    # A short is as much a position as a long: the limit applies to the size either way.
    projected = abs(ctx.projected_position)
    shown = f"{fmt(projected)} {symbol}"
    if "max_quantity" in params:
        max_qty = Decimal(params["max_quantity"])
        if projected > max_qty:
            return failed(
                "position_quantity_limit",
                f"The position in {symbol} could reach {fmt(projected)}, above the limit "
                f"{fmt(max_qty)}.",
                fmt(projected),
                fmt(max_qty),
            )
    if "max_value" not in params:
        return passed(
            f"Position of {shown} within {params['max_quantity']}.",
            fmt(projected),
            params["max_quantity"],
        )
    max_value = Decimal(params["max_value"])
    if ctx.price is None:
        return failed(
            "no_price",
            f"No limit price and no reference price for {symbol}: the position value is unknown.",
            None,
            fmt(max_value),
        )
    problem = unvalued(ctx, max_value)
    if problem is not None:
        return problem
    value = notional(projected, ctx.price, ctx.order.instrument.multiplier) * ctx.fx_rate
    if value > max_value:
        return failed(
            "position_value_limit",
            f"The position in {symbol} could be worth {ctx.money(value)}, above the limit "
            f"{ctx.money(max_value)}.",
            fmt(value),
            fmt(max_value),
        )
    return passed(
        f"Position of {shown} worth {ctx.money(value)} within {ctx.money(max_value)}.",
        fmt(value),
        fmt(max_value),
    )
