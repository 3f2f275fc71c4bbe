"""Credit limit: working orders, today's fills and this order stay within the credit line."""

from decimal import Decimal

from apps.rules.checks.base import (
    ZERO,
    CheckContext,
    Outcome,
    ParameterError,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    passed,
    unvalued,
)
from apps.rules.checks.params import BOOLEAN, DECIMAL, Param

PARAMS = (
    Param(
        "use_account_limit",
        BOOLEAN,
        "Use the account's own credit limit; untick to give the rule's limit below.",
        default=True,
        example=False,
    ),
    Param(
        "max_credit",
        DECIMAL,
        "The rule's credit limit, only when the account's limit is not used.",
        minimum=Decimal("0"),
        unit="base currency",
        example="1000000",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"use_account_limit", "max_credit"})
    use_account = params.get("use_account_limit", True)
    if not isinstance(use_account, bool):
        raise ParameterError("use_account_limit must be true or false")
    has_max = params.get("max_credit") is not None
    if use_account and has_max:
        # One limit, not two: a max_credit that is silently ignored would mislead reviewers.
        raise ParameterError("max_credit applies only when use_account_limit is false")
    if use_account:
        return {"use_account_limit": True}
    if not has_max:
        raise ParameterError("max_credit is required when use_account_limit is false")
    credit = decimal_param(params, "max_credit", minimum=ZERO)
    return {"use_account_limit": False, "max_credit": str(credit)}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    use_account = params.get("use_account_limit", True)
    limit = ctx.account_credit_limit if use_account else Decimal(params["max_credit"])
    source = "the account's credit limit" if use_account else "the rule's credit limit"
    problem = unvalued(ctx, limit, account_wide=True)
    if problem is not None:
        return problem
    notional = ctx.notional
    used = ctx.account_open_notional + ctx.today_filled_notional + notional
    # A zero limit means no credit at all, whatever the order.
    if limit <= 0:
        return failed(
            "credit_limit_exceeded",
            f"There is no credit: {source} is {ctx.money(limit)}, so no order may go out.",
            fmt(used),
            fmt(limit),
        )
    if used > limit:
        return failed(
            "credit_limit_exceeded",
            f"Credit used would be {ctx.money(used)} with this order's "
            f"{ctx.money(notional)}{ctx.conversion}, above {source} of {ctx.money(limit)}.",
            fmt(used),
            fmt(limit),
        )
    return passed(
        f"Credit used {ctx.money(used)} with this order's {ctx.money(notional)}"
        f"{ctx.conversion}, within {source} of {ctx.money(limit)}.",
        fmt(used),
        fmt(limit),
    )
