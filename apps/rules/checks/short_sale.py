"""Short sale locate (SEC Reg SHO 203(b)(1)): before a short sale of a US equity the firm must
have reasonable grounds to believe the shares can be borrowed, and document it. Here: the order
names a locate on record in `metadata.locate_id`, of the same account and instrument, not
expired, with enough of its quantity left for this order (the other short sales naming it use
theirs). Failing that: `locate_missing`.

`sell_short_exempt` needs no locate (Reg SHO 203(b)(2) and the exemptions 200(g)(2) marks): it
passes with the code `short_sale_exempt`, so the exemption stands in the order's record. A
`sell` (long sale) is the concern of `sale_marking`; "US equity" is
`apps.trading.models.is_us_equity`.
"""

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    failed,
    fmt,
    no_extra_params,
    passed,
    skipped,
)
from apps.trading.models import Side, is_us_equity, locate_ref

PARAMS = ()


def validate(params: dict) -> dict:
    no_extra_params(params, set())
    return {}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    order = ctx.order
    info = order.instrument
    if order.side == Side.SELL_SHORT_EXEMPT:
        return Outcome(
            True,
            f"Short sale of {info.symbol} marked exempt: no locate needed (Reg SHO 203(b)(2)).",
            code="short_sale_exempt",
        )
    if order.side != Side.SELL_SHORT:
        return skipped("Not a short sale.")
    if not is_us_equity(asset_class=info.asset_class, mic=info.mic, currency=info.currency):
        return skipped(f"{info.symbol} is not a US equity: Reg SHO's locate does not apply.")
    quantity = fmt(order.quantity)
    try:
        named = locate_ref(order.metadata)
    except ValueError:
        named = None
    if named is None:
        return _missing(
            f"A short sale of {info.symbol} must name a locate on record in metadata.locate_id.",
            quantity,
        )
    locate = ctx.locate
    if locate is None or locate.id != named:
        return _missing(f"No locate {named} on record for {order.account_code}.", quantity)
    if locate.instrument_id != info.id:
        return _missing(f"Locate {named} is of another instrument than {info.symbol}.", quantity)
    left = fmt(locate.remaining)
    if locate.expires_at <= ctx.now:
        return _missing(
            f"Locate {named} from {locate.lender} expired at "
            f"{locate.expires_at:%Y-%m-%d %H:%M} UTC.",
            quantity,
            left,
        )
    if order.quantity > locate.remaining:
        return _missing(
            f"Locate {named} from {locate.lender} has {left} of {fmt(locate.quantity)} "
            f"{info.symbol} left; the order sells {quantity} short.",
            quantity,
            left,
        )
    return passed(
        f"Locate {named} from {locate.lender}: {quantity} of the {left} {info.symbol} left.",
        quantity,
        left,
    )


def _missing(message: str, quantity: str | None, left: str | None = None) -> Outcome:
    """`observed` is what the order sells short, `threshold` what its locate has left."""
    return failed("locate_missing", message, quantity, left)
