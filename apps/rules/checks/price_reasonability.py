"""Price reasonableness: a limit price lies within absolute bounds and on the tick grid."""

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
    skipped,
)
from apps.rules.checks.params import DECIMAL, Param

PARAMS = (
    Param(
        "min_price",
        DECIMAL,
        "The lowest reasonable limit price.",
        default="0.0001",
        minimum=Decimal("0"),
        unit="price",
    ),
    Param(
        "max_price",
        DECIMAL,
        "The highest reasonable limit price.",
        required=True,
        positive=True,
        unit="price",
        example="100000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"min_price", "max_price"})
    low = decimal_param(params, "min_price", default="0.0001", minimum=Decimal(0))
    high = decimal_param(params, "max_price", positive=True)
    if low > high:
        raise ParameterError("min_price must not exceed max_price")
    return {"min_price": str(low), "max_price": str(high)}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    if ctx.order.order_type == "market":
        return skipped("Market order: no limit price to check.")
    price = ctx.order.limit_price
    if price is None:
        return failed("no_limit_price", "A limit order without a limit price cannot be checked.")
    low, high = Decimal(params["min_price"]), Decimal(params["max_price"])
    if price < low or price > high:
        return failed(
            "price_out_of_bounds",
            f"Limit {fmt(price)} is outside the reasonable range {fmt(low)}..{fmt(high)}.",
            fmt(price),
            f"{fmt(low)}..{fmt(high)}",
        )
    tick = ctx.order.instrument.tick_size
    if tick and price % tick != 0:
        return failed(
            "price_not_on_tick",
            f"Limit {fmt(price)} is not a multiple of the tick size {fmt(tick)}.",
            fmt(price),
            fmt(tick),
        )
    return passed(
        f"Limit {fmt(price)} within {fmt(low)}..{fmt(high)} and on the tick.",
        fmt(price),
        f"{fmt(low)}..{fmt(high)}",
    )
