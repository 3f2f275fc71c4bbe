"""Daily volume cap: what the account trades today, counting what is still working."""

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
from apps.trading.models import is_sell, side_direction

LIMITS = ("max_quantity", "max_notional")


PARAMS = (
    Param(
        "max_quantity",
        DECIMAL,
        "Today's traded and working quantity per instrument and side; give this, a notional "
        "cap, or both.",
        positive=True,
        unit="quantity",
        example="100000",
    ),
    Param(
        "max_notional",
        DECIMAL,
        "Today's traded and working notional of the account.",
        positive=True,
        unit="base currency",
        example="5000000",
    ),
)


def validate(params: dict) -> dict:
    return one_or_more_limits(params, LIMITS)


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    order = ctx.order
    symbol = order.instrument.symbol
    notes, observed, threshold = [], None, None  # the pass reports the last cap checked
    if "max_quantity" in params:
        limit = Decimal(params["max_quantity"])
        # Working orders are assumed to fill: the cap holds even if they all do.
        working = ctx.working_sell if is_sell(order.side) else ctx.working_buy
        way = side_direction(order.side)
        qty = ctx.today_filled_quantity + working + order.quantity
        if qty > limit:
            return failed(
                "daily_volume_quantity",
                f"Today's {way} volume in {symbol} would reach {fmt(qty)}, above the cap "
                f"{fmt(limit)}.",
                fmt(qty),
                fmt(limit),
            )
        notes.append(f"{way} volume {fmt(qty)} within {fmt(limit)}")
        observed, threshold = fmt(qty), fmt(limit)
    if "max_notional" in params:
        limit = Decimal(params["max_notional"])
        problem = unvalued(ctx, limit, account_wide=True)
        if problem is not None:
            return problem
        total = ctx.today_filled_notional + ctx.account_open_notional + ctx.notional
        if total > limit:
            return failed(
                "daily_volume_notional",
                f"Today's traded and working notional would reach {ctx.money(total)}, above the "
                f"cap {ctx.money(limit)}.",
                fmt(total),
                fmt(limit),
            )
        notes.append(f"notional {ctx.money(total)} within {ctx.money(limit)}")
        observed, threshold = fmt(total), fmt(limit)
    return passed(f"Today's {'; '.join(notes)}.", observed, threshold)
