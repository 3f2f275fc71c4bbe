"""Long sale marking (SEC Reg SHO 200(g)): an order marked `sell` is a long sale, so the account
must hold what it sells. The position less the open sells (held orders too) less this sale must
not go below zero; a sale that would take the account short is `mismarked_short` (mark it
`sell_short`, with a locate, or `sell_short_exempt`).

`asset_classes` (default equity and ETF, the securities Reg SHO marks) says where the marking is
judged; a future or an option sold to open a short is not a short sale.
"""

from decimal import Decimal

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    failed,
    fmt,
    no_extra_params,
    passed,
    skipped,
    str_list_param,
)
from apps.rules.checks.params import STRINGS, Param
from apps.trading.models import AssetClass, Side

DEFAULT_CLASSES = [AssetClass.EQUITY.value, AssetClass.ETF.value]


PARAMS = (
    Param(
        "asset_classes",
        STRINGS,
        "Asset classes whose long sales are checked against the position.",
        default=list(DEFAULT_CLASSES),
        choices=tuple(AssetClass.values),
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"asset_classes"})
    classes = str_list_param(params, "asset_classes", default=DEFAULT_CLASSES)
    unknown = sorted(set(classes) - set(AssetClass.values))
    if unknown:
        raise ParameterError(f"asset_classes: unknown {', '.join(unknown)}")
    if not classes:
        raise ParameterError("asset_classes must name at least one asset class")
    return {"asset_classes": sorted(set(classes))}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    order = ctx.order
    info = order.instrument
    if order.side != Side.SELL:
        return skipped("Not a long sale.")
    if info.asset_class not in params["asset_classes"]:
        return skipped(f"Sales of {info.asset_class} are not marked long or short here.")
    held = ctx.position - ctx.working_sell  # what is long and not already being sold
    shown = fmt(max(held, Decimal(0)))
    if held - order.quantity < 0:
        return failed(
            "mismarked_short",
            f"Marked long, but the account holds {shown} {info.symbol} not already offered "
            f"(position {fmt(ctx.position)}, open sells {fmt(ctx.working_sell)}): selling "
            f"{fmt(order.quantity)} would take it short. Mark it sell_short.",
            fmt(order.quantity),
            shown,
        )
    return passed(
        f"Long sale of {fmt(order.quantity)} {info.symbol} out of the {shown} held.",
        fmt(order.quantity),
        shown,
    )
