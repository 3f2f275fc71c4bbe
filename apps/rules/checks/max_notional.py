"""Max notional per order: quantity x the order's price (its limit, else the reference) x the
contract's multiplier, in the account's base currency."""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    passed,
    unvalued,
)
from apps.rules.checks.params import DECIMAL, Param

PARAMS = (
    Param(
        "max_notional",
        DECIMAL,
        "Quantity x price x multiplier of one order.",
        required=True,
        positive=True,
        unit="base currency",
        example="250000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_notional"})
    return {"max_notional": str(decimal_param(params, "max_notional", positive=True))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    limit = Decimal(params["max_notional"])
    problem = unvalued(ctx, limit)
    if problem is not None:
        return problem
    notional = ctx.notional
    text = f"Notional {ctx.money(notional)}{ctx.conversion}"
    if notional > limit:
        return failed(
            "notional_above_max",
            f"{text} exceeds {ctx.money(limit)}.",
            fmt(notional),
            fmt(limit),
        )
    return passed(f"{text} within {ctx.money(limit)}.", fmt(notional), fmt(limit))
