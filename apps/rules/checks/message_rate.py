"""Message limits (MiFID II RTS 6 art. 15(1)(d)): how many messages an account, and a user on
every account, may send per second and per minute. Every message counts: new orders (rejected
ones too), amendments (refused ones too) and cancels. New orders and amendments over a limit
are refused here; a cancel is never refused (it takes risk off the market) but counts towards
the next message's limit. A dry run (`/pretrade/check/`) is not a message.
"""

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    failed,
    int_param,
    no_extra_params,
    passed,
    skipped,
)
from apps.rules.checks.params import CHOICE, INTEGER, Param

PER = ("account", "user", "both")
_LIMITS = (("max_per_second", "second"), ("max_per_minute", "minute"))


PARAMS = (
    Param(
        "max_per_second",
        INTEGER,
        "Messages (orders, amendments, cancels) per second; give this, a per-minute limit, or "
        "both.",
        minimum=1,
        maximum=1_000_000,
        unit="messages",
        example=50,
    ),
    Param(
        "max_per_minute",
        INTEGER,
        "Messages per minute.",
        minimum=1,
        maximum=1_000_000,
        unit="messages",
        example=1000,
    ),
    Param(
        "per",
        CHOICE,
        "Whose messages are counted: the account's, the user's on every account, or both.",
        default="both",
        choices=PER,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_per_second", "max_per_minute", "per"})
    out: dict = {}
    for name, _window in _LIMITS:
        if params.get(name) is not None:
            out[name] = int_param(params, name, minimum=1, maximum=1_000_000)
    if not out:
        raise ParameterError("max_per_second or max_per_minute is required (or both)")
    second, minute = out.get("max_per_second"), out.get("max_per_minute")
    if second is not None and minute is not None and second > minute:
        raise ParameterError("max_per_second must not exceed max_per_minute")
    per = params.get("per", "both")
    if per not in PER:
        raise ParameterError(f"per must be one of: {', '.join(PER)}")
    out["per"] = per
    return out


def _counts(params: dict, ctx: CheckContext) -> list[tuple[str, str, int, int]]:
    """(who, window, count with this message, limit) of each limit that applies."""
    who = []
    if params["per"] in ("account", "both"):
        who.append((f"account {ctx.order.account_code}", "account"))
    if params["per"] in ("user", "both") and ctx.order.submitted_by:
        who.append((f"user {ctx.order.submitted_by}", "user"))
    out = []
    for label, scope in who:
        for name, window in _LIMITS:
            if name in params:
                count = getattr(ctx, f"{scope}_messages_last_{window}") + 1  # this one included
                out.append((label, window, count, params[name]))
    return out


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    counts = _counts(params, ctx)
    if not counts:
        return skipped("The message has no user to count it for (a system order).")
    over = [c for c in counts if c[2] > c[3]]
    if over:
        label, window, count, limit = over[0]
        return failed(
            "message_rate_exceeded",
            f"This would be message {count} of {label} in the last {window}; at most {limit} "
            "are allowed (new orders, amendments and cancels all count).",
            str(count),
            str(limit),
        )
    # The limit closest to being reached is the one shown.
    label, window, count, limit = max(counts, key=lambda c: c[2] / c[3])
    return passed(
        f"{count} messages of {label} in the last {window}, at most {limit}.",
        str(count),
        str(limit),
    )
