"""Trading hours: the instrument's market is open now (an unknown calendar fails closed)."""

from datetime import timedelta

from apps.core.calendars import calendar_code
from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    failed,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import BOOLEAN, Param

# ctx.is_open only answers open/closed, so "pre-open" is approximated as "opens within this".
PRE_OPEN_WINDOW = timedelta(minutes=30)


PARAMS = (
    Param(
        "allow_pre_open",
        BOOLEAN,
        "Accept orders in the 30 minutes before the market opens.",
        default=False,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"allow_pre_open"})
    allow = params.get("allow_pre_open", False)
    if not isinstance(allow, bool):
        raise ParameterError("allow_pre_open must be true or false")
    return {"allow_pre_open": allow}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    inst = ctx.order.instrument
    calendar = calendar_code(inst.calendar, inst.mic)
    is_open = ctx.is_open(calendar, ctx.now) if calendar else None
    if is_open is None:
        return failed(
            "unknown_calendar",
            (
                f"The trading calendar {calendar} of {inst.symbol} is unknown"
                if calendar
                else f"{inst.symbol} has neither a trading calendar nor a MIC"
            )
            + ": its trading hours cannot be checked.",
            None,
            calendar,
        )
    if is_open:
        return passed(f"{calendar} is open.", "open", calendar)
    if params.get("allow_pre_open") and ctx.is_open(calendar, ctx.now + PRE_OPEN_WINDOW):
        return passed(
            f"{calendar} opens within 30 minutes; pre-open orders are allowed.",
            "pre-open",
            calendar,
        )
    return failed(
        "market_closed",
        f"{calendar} is closed at {ctx.now:%Y-%m-%d %H:%M} UTC.",
        "closed",
        calendar,
    )
