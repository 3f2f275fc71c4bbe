"""Duplicate order: the same order sent again within seconds is most likely a resend by mistake.

Same account, instrument, side, quantity and price, and the first one still working (accepted,
partially filled or held): a child order of the same size sent after the previous one filled or
was canceled is slicing, not a resend. A deliberate resend uses the same client_order_id, which
the gate answers idempotently before any rule runs.
"""

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
        "window_seconds",
        INTEGER,
        "An identical working order sent within this window is a duplicate.",
        default=5,
        minimum=1,
        maximum=3600,
        unit="seconds",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"window_seconds"})
    return {
        "window_seconds": int_param(params, "window_seconds", default=5, minimum=1, maximum=3600)
    }


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    window = params["window_seconds"]
    if ctx.duplicate_within(window):
        return failed(
            "duplicate_order",
            f"The same order (account, instrument, side, quantity, price) was sent in the last "
            f"{window} seconds and is still working.",
            None,
            str(window),
        )
    return passed(
        f"No identical working order sent in the last {window} seconds.", None, str(window)
    )
