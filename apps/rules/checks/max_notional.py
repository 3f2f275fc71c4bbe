"""Max notional per order: quantity times the order's price (its limit, else the reference)."""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    notional_unknown,
    passed,
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_notional"})
    return {"max_notional": str(decimal_param(params, "max_notional", positive=True))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    limit = Decimal(params["max_notional"])
    notional = ctx.notional
    if notional is None:
        return notional_unknown(limit)
    if notional > limit:
        return failed(
            "notional_above_max",
            f"Notional {fmt(notional)} exceeds {fmt(limit)}.",
            fmt(notional),
            fmt(limit),
        )
    return passed(f"Notional {fmt(notional)} within {fmt(limit)}.", fmt(notional), fmt(limit))
