"""Self-trade and same-owner cross prevention (SEC 15c3-5(c)(2), MAR art. 12(1)(a) wash trades):
an order that would trade against a working order (accepted, partially filled or held) of its
own account, or of another account of the same beneficial owner, in the same instrument.

It crosses when a buy's limit is at or above the working sell's limit, a sell's at or below the
working buy's; a market order on either side crosses any opposite working order. Filled,
canceled, expired and rejected orders are not working: they cross nothing. With
`same_owner` false, only the account's own orders count.
"""

from apps.rules.checks.base import (
    CROSSING_LIMIT,
    CheckContext,
    Outcome,
    bool_param,
    failed,
    fmt,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import BOOLEAN, Param

PARAMS = (
    Param(
        "same_owner",
        BOOLEAN,
        "Also refuse crossing the working orders of other accounts of the same beneficial owner.",
        default=True,
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"same_owner"})
    return {"same_owner": bool_param(params, "same_owner", default=True)}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    own = ctx.order.account_id
    found = [o for o in ctx.crossing_orders if params["same_owner"] or o.account_id == own]
    whose = "its beneficial owner's accounts" if params["same_owner"] else "the account"
    if not found:
        return passed(f"No working order of {whose} on the other side at a crossing price.")
    first = found[0]
    price = "at market" if first.limit_price is None else f"at {fmt(first.limit_price)}"
    this = "at market" if ctx.order.limit_price is None else f"at {fmt(ctx.order.limit_price)}"
    if first.account_id == own:
        code, of = "self_trade", f"this account ({first.account_code})"
    else:
        code = "same_owner_cross"
        owner = first.beneficial_owner
        of = f"account {first.account_code}, of the same beneficial owner ({owner})"
    more = ""
    if len(found) > 1:
        capped = len(ctx.crossing_orders) >= CROSSING_LIMIT  # the read stops there
        more = f"; {'at least ' if capped else ''}{len(found) - 1} more would cross too"
    return failed(
        code,
        f"This {ctx.order.side} {this} would cross working {first.side} order #{first.id} "
        f"({first.client_order_id}, {fmt(first.open_quantity)} open {price}, {first.status}) "
        f"of {of}{more}.",
        f"#{first.id}",
    )
