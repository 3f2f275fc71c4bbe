"""Sector concentration: one sector's share of the account's gross exposure after this order."""

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

PARAMS = share_limit_spec("40", "the instrument's sector")


def validate(params: dict) -> dict:
    return share_limit_params(params, default_pct="40")


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    max_pct, floor = Decimal(params["max_pct"]), Decimal(params["min_portfolio_value"])
    inst = ctx.order.instrument
    if not inst.sector:
        # Reference data gap: fail closed rather than let an unclassified name through.
        return failed(
            "no_sector", f"{inst.symbol} has no sector: sector concentration cannot be checked."
        )
    problem = unvalued(ctx, max_pct, account_wide=True)
    if problem is not None:
        return problem
    notional = ctx.notional
    # The order's own instrument may be missing from the map (a first trade in it).
    sectors = {**ctx.sector_by_instrument, inst.id: inst.sector}
    exposure = ctx.exposure_by_instrument
    # Every order adds, a sell too: the worst case is that it opens a short.
    held = sum((v for i, v in exposure.items() if sectors.get(i) == inst.sector), ZERO) + notional
    total = sum(exposure.values(), ZERO) + notional
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
    text = f"Sector {inst.sector} would be {shown}% of the portfolio ({fmt(held)} of {fmt(total)})"
    if share > max_pct:
        return failed(
            "sector_concentration_limit",
            f"{text}; the limit is {fmt(max_pct)}%.",
            shown,
            fmt(max_pct),
        )
    return passed(f"{text}; the limit is {fmt(max_pct)}%.", shown, fmt(max_pct))
