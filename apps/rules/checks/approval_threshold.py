"""Approval threshold: orders above a notional wait for a human (the rule's action is hold)."""

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
from apps.rules.checks.params import DECIMAL, INTEGER, Param

PARAMS = (
    Param(
        "notional",
        DECIMAL,
        "Orders above this notional (in the account's base currency) wait for an approver.",
        default="5000",
        positive=True,
        unit="base currency",
    ),
    Param(
        "ttl_seconds",
        INTEGER,
        "How long a held order waits for a decision before it expires; empty: the default.",
        minimum=10,
        maximum=86400,
        unit="seconds",
        example=3600,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"notional", "ttl_seconds"})
    out = {"notional": str(decimal_param(params, "notional", default="5000", positive=True))}
    if "ttl_seconds" in params:
        from apps.rules.checks.base import int_param

        out["ttl_seconds"] = int_param(params, "ttl_seconds", minimum=10, maximum=86400)
    return out


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    threshold = Decimal(params["notional"])
    if ctx.price is None:
        return failed(
            "no_price", "The notional is unknown: a human must look at it.", None, fmt(threshold)
        )
    problem = unvalued(ctx, threshold)  # no fresh FX rate: rejected, not held (the engine)
    if problem is not None:
        return problem
    notional = ctx.notional
    text = f"Notional {ctx.money(notional)}{ctx.conversion}"
    if notional > threshold:
        return failed(
            "above_approval_threshold",
            f"{text} is above the approval threshold {ctx.money(threshold)}.",
            fmt(notional),
            fmt(threshold),
        )
    return passed(f"{text} at or below {ctx.money(threshold)}.", fmt(notional), fmt(threshold))
