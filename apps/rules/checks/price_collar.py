"""Price collar: a limit price may not stray too far from a fresh reference price, and a market
order is protected: it may trade no further from the reference than its band (`market_band_pct`,
at most the collar; by default the collar itself), and it is valued at that worst price
(apps.trading.pricing.protected_price)."""

from decimal import ROUND_UP, Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    decimal_param,
    failed,
    fmt,
    int_param,
    no_extra_params,
    passed,
)
from apps.rules.checks.params import DECIMAL, INTEGER, Param
from apps.trading.pricing import protected_price

# A sell's protected price is reference x (1 - band): the band stays below 100%.
BAND_MAX = Decimal("99")


PARAMS = (
    Param(
        "max_deviation_pct",
        DECIMAL,
        "How far a limit price may stray from the reference price.",
        default="5",
        positive=True,
        unit="%",
    ),
    Param(
        "max_age_seconds",
        INTEGER,
        "The oldest reference price the collar trusts.",
        default=300,
        minimum=1,
        maximum=7 * 86400,
        unit="seconds",
    ),
    Param(
        "market_band_pct",
        DECIMAL,
        "How far from the reference a market order may trade; empty: the collar itself.",
        positive=True,
        maximum=BAND_MAX,
        unit="%",
        example="2",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"max_deviation_pct", "max_age_seconds", "market_band_pct"})
    pct = decimal_param(params, "max_deviation_pct", default="5", positive=True)
    age = int_param(params, "max_age_seconds", default=300, minimum=1, maximum=7 * 86400)
    band = decimal_param(
        params, "market_band_pct", default=min(pct, BAND_MAX), positive=True, maximum=BAND_MAX
    )
    if band > pct:
        raise ParameterError(
            "market_band_pct must not exceed max_deviation_pct: a market order's worst price "
            "must stay inside the collar"
        )
    return {"max_deviation_pct": str(pct), "max_age_seconds": age, "market_band_pct": str(band)}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    max_pct = Decimal(params["max_deviation_pct"])
    max_age = params["max_age_seconds"]
    symbol, ref, as_of = ctx.order.instrument.symbol, ctx.reference_price, ctx.reference_as_of
    # Checked before the order type: a market order without a trusted price must not go out.
    if ref is None or ref <= 0:
        return failed(
            "no_reference_price",
            f"There is no reference price for {symbol}: the collar cannot be checked.",
            None,
            fmt(max_pct),
        )
    if as_of is None or (ctx.now - as_of).total_seconds() > max_age:
        age = (
            "of unknown age" if as_of is None else f"{int((ctx.now - as_of).total_seconds())}s old"
        )
        return failed(
            "stale_reference_price",
            f"The reference price {fmt(ref)} of {symbol} is {age}; at most {max_age}s is allowed.",
            None,
            fmt(max_pct),
        )
    limit = ctx.order.limit_price
    if ctx.order.order_type == "market":
        return _market_order(params, ctx, ref, max_pct)
    if limit is None:
        return failed("no_limit_price", "A limit order without a limit price cannot be checked.")
    deviation = abs(limit - ref) / ref * 100
    # Rounded up for display, so that a failing deviation never reads as equal to the collar.
    shown = fmt(deviation.quantize(Decimal("0.01"), rounding=ROUND_UP))
    text = f"Limit {fmt(limit)} is {shown}% from the reference {fmt(ref)}; the collar is "
    if deviation > max_pct:
        return failed("price_outside_collar", f"{text}{fmt(max_pct)}%.", shown, fmt(max_pct))
    return passed(f"{text}{fmt(max_pct)}%.", shown, fmt(max_pct))


def _market_order(params: dict, ctx: CheckContext, ref: Decimal, max_pct: Decimal) -> Outcome:
    """A market order is collared at its protected price: the reference moved against it by
    the band it carries (the narrowest of the collars that apply, `ctx.market_band_pct`; this
    rule's own when the gate found none)."""
    band = ctx.market_band_pct
    if band is None:
        band = Decimal(params["market_band_pct"])
    worst = protected_price(ctx.order.side, ref, band)
    text = (
        f"Market order protected at {fmt(worst)}, {fmt(band)}% from the reference {fmt(ref)}; "
        f"the collar is {fmt(max_pct)}%."
    )
    if band > max_pct:
        return failed("price_outside_collar", text, fmt(band), fmt(max_pct))
    return passed(text, fmt(band), fmt(max_pct))
