"""Restricted list: the instrument, its issuer or its underlying's issuer may not be traded.

The gate hands over only the entries that are effective now and match this order, so any
entry at all blocks the order.
"""

from apps.rules.checks.base import CheckContext, Outcome, failed, no_extra_params, passed

CODES = {
    "instrument": "restricted_instrument",
    "issuer": "restricted_issuer",
    "underlying_issuer": "restricted_underlying_issuer",
}
LABELS = {"instrument": "Instrument", "issuer": "Issuer", "underlying_issuer": "Underlying issuer"}


PARAMS = ()


def validate(params: dict) -> dict:
    no_extra_params(params, set())
    return {}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    symbol = ctx.order.instrument.symbol
    if not ctx.restrictions:
        return passed(f"{symbol} is not on the restricted list.")
    first = ctx.restrictions[0]
    kind = first.get("kind", "")
    # An entry of a kind we do not know still matched this order: it restricts all the same.
    code = CODES.get(kind, "restricted_instrument")
    target = first.get("target") or symbol
    reason = (first.get("reason") or "no reason recorded").rstrip(".")
    message = f"{LABELS.get(kind, 'Instrument')} {target} is on the restricted list: {reason}."
    if len(ctx.restrictions) > 1:
        message += f" {len(ctx.restrictions) - 1} more restricted list entries also match."
    return failed(code, message, target, None)
