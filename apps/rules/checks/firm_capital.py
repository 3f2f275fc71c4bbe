"""Firm-wide capital threshold (SEC 15c3-5(c)(1)(i), "in the aggregate"): the whole firm's
working orders, today's fills and this order, in the firm's currency, within a pre-set amount.

The per-account limits (credit, gross, daily volume) cap each account; this caps their sum, so
that many accounts each within their lines cannot together commit more than the firm set aside.
The gate reads the firm's totals in one aggregate statement of its batch, only while a rule of
this type is active (`reads.firm_notional`).
"""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    decimal_param,
    failed,
    fmt,
    fx_unavailable,
    no_extra_params,
    notional_unknown,
    passed,
)
from apps.rules.checks.params import DECIMAL, Param

PARAMS = (
    Param(
        "max_notional",
        DECIMAL,
        "The firm's working and today's filled notional, in the firm currency.",
        required=True,
        positive=True,
        unit="firm currency",
        example="50000000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_notional"})
    return {"max_notional": str(decimal_param(params, "max_notional", positive=True))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    limit = Decimal(params["max_notional"])
    firm = ctx.firm_currency
    local = ctx.notional_local
    if local is None:
        return notional_unknown(limit)
    missing = set(ctx.firm_fx_missing)
    if ctx.fx_rate_firm is None:
        missing.add(ctx.order.instrument.currency)
    if missing:
        return fx_unavailable(ctx, limit, missing, firm)
    order = local * ctx.fx_rate_firm
    used = ctx.firm_used + order
    text = (
        f"The firm's working and today's filled notional with this order would be "
        f"{fmt(used)} {firm} (this order {fmt(order)} {firm})"
    )
    if used > limit:
        return failed(
            "firm_capital_exceeded",
            f"{text}, above the firm's capital threshold of {fmt(limit)} {firm}.",
            fmt(used),
            fmt(limit),
        )
    return passed(
        f"{text}, within the firm's capital threshold of {fmt(limit)} {firm}.",
        fmt(used),
        fmt(limit),
    )
