"""Concentration: one instrument's share of the account's gross exposure after this order."""

from decimal import ROUND_UP, Decimal

from apps.rules.checks.base import (
    ZERO,
    CheckContext,
    Outcome,
    failed,
    fmt,
    passed,
    share_limit_params,
    unvalued,
)
from apps.rules.checks.params import share_limit_spec

PARAMS = share_limit_spec("25", "this instrument")


def validate(params: dict) -> dict:
    return share_limit_params(params, default_pct="25")


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    max_pct, floor = Decimal(params["max_pct"]), Decimal(params["min_portfolio_value"])
    symbol = ctx.order.instrument.symbol
    problem = unvalued(ctx, max_pct, account_wide=True)
    if problem is not None:
        return problem
    notional = ctx.notional
    # Every order adds, a sell too: the worst case is that it opens a short.
    held = ctx.exposure_by_instrument.get(ctx.order.instrument.id, ZERO) + notional
    total = sum(ctx.exposure_by_instrument.values(), ZERO) + notional
    if total < floor or total <= 0:
        return passed(
            f"The portfolio ({fmt(total)}) is below {fmt(floor)}: too small to judge "
            "concentration.",
            fmt(total),
            fmt(floor),
        )
    share = held / total * 100
    # Rounded up for display, so that a failing share never reads as equal to the limit.
    shown = fmt(share.quantize(Decimal("0.01"), rounding=ROUND_UP))
    text = f"{symbol} would be {shown}% of the portfolio ({fmt(held)} of {fmt(total)})"
    if share > max_pct:
        return failed(
            "concentration_limit", f"{text}; the limit is {fmt(max_pct)}%.", shown, fmt(max_pct)
        )
    return passed(f"{text}; the limit is {fmt(max_pct)}%.", shown, fmt(max_pct))
