"""Cancel-to-order ratio: an account that cancels almost everything it sends stops sending.

A market maker (the account's `is_market_maker` flag) quotes both sides all session, canceling
and replacing as the market moves: its ratio is high by design, so with `exempt_market_makers`
(the default) the rule does not judge it, and its quoting is not stopped mid-session. Message
limits (`message_rate`) still apply to it.
"""

from decimal import ROUND_UP, Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    bool_param,
    decimal_param,
    failed,
    fmt,
    int_param,
    no_extra_params,
    passed,
    skipped,
)
from apps.rules.checks.params import BOOLEAN, DECIMAL, INTEGER, Param

PARAMS = (
    Param(
        "max_ratio",
        DECIMAL,
        "Cancels per order sent today above which new orders are refused.",
        default="0.95",
        minimum=Decimal("0"),
    ),
    Param(
        "min_orders",
        INTEGER,
        "The ratio is judged only from this many orders today.",
        default=20,
        minimum=1,
        maximum=1_000_000,
        unit="orders",
    ),
    Param(
        "exempt_market_makers",
        BOOLEAN,
        "Market makers cancel and replace quotes all day: leave their ratio unjudged.",
        default=True,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_ratio", "min_orders", "exempt_market_makers"})
    ratio = decimal_param(params, "max_ratio", default="0.95", minimum=Decimal(0))
    # At least one order, so that the ratio is always defined once it is judged.
    count = int_param(params, "min_orders", default=20, minimum=1, maximum=1_000_000)
    exempt = bool_param(params, "exempt_market_makers", default=True)
    return {"max_ratio": str(ratio), "min_orders": count, "exempt_market_makers": exempt}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    if ctx.account_is_market_maker and params.get("exempt_market_makers", True):
        return skipped(
            f"{ctx.order.account_code} is a market maker: it cancels and replaces its quotes all "
            "session, so its cancel ratio is not judged (message limits still apply)."
        )
    limit, min_orders = Decimal(params["max_ratio"]), params["min_orders"]
    orders, cancels = ctx.today_orders, ctx.today_cancels
    if orders < min_orders:
        return passed(
            f"Only {orders} orders today; the cancel ratio is judged from {min_orders}.",
            str(orders),
            str(min_orders),
        )
    ratio = Decimal(cancels) / Decimal(orders)
    # Rounded up for display, so that a failing ratio never reads as equal to the limit.
    shown = fmt(ratio.quantize(Decimal("0.0001"), rounding=ROUND_UP))
    text = f"{cancels} cancels for {orders} orders today is a ratio of {shown}; the limit is "
    if ratio > limit:
        return failed("cancel_ratio_exceeded", f"{text}{fmt(limit)}.", shown, fmt(limit))
    return passed(f"{text}{fmt(limit)}.", shown, fmt(limit))
