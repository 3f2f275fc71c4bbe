"""Order rate: a throttle on the orders an account sends per minute (MiFID II RTS 6)."""

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    failed,
    int_param,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import INTEGER, Param

PARAMS = (
    Param(
        "max_per_minute",
        INTEGER,
        "New orders of the account per minute.",
        default=120,
        minimum=1,
        maximum=1_000_000,
        unit="orders",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_per_minute"})
    return {
        "max_per_minute": int_param(
            params, "max_per_minute", default=120, minimum=1, maximum=1_000_000
        )
    }


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    limit = params["max_per_minute"]
    count = ctx.orders_last_minute + 1  # this order included
    if count > limit:
        return failed(
            "order_rate_exceeded",
            f"This would be order {count} in the last minute; at most {limit} are allowed.",
            str(count),
            str(limit),
        )
    return passed(f"{count} orders in the last minute, at most {limit}.", str(count), str(limit))
