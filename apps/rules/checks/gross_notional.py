"""Gross notional: the account's total gross exposure, this order included."""

from decimal import Decimal

from apps.rules.checks.base import (
    ZERO,
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
        "max_gross_notional",
        DECIMAL,
        "The account's gross exposure with this order.",
        required=True,
        positive=True,
        unit="base currency",
        example="10000000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_gross_notional"})
    return {"max_gross_notional": str(decimal_param(params, "max_gross_notional", positive=True))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    limit = Decimal(params["max_gross_notional"])
    problem = unvalued(ctx, limit, account_wide=True)
    if problem is not None:
        return problem
    notional = ctx.notional
    # Every order adds, a sell too: the worst case is that it opens a short.
    gross = sum(ctx.exposure_by_instrument.values(), ZERO) + notional
    if gross > limit:
        return failed(
            "gross_notional_limit",
            f"The account's gross notional would be {ctx.money(gross)}, above the limit "
            f"{ctx.money(limit)}.",
            fmt(gross),
            fmt(limit),
        )
    return passed(
        f"Gross notional {ctx.money(gross)} within {ctx.money(limit)}.", fmt(gross), fmt(limit)
    )
