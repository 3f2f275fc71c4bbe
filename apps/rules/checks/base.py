"""What a rule check sees and what it answers.

The gate gathers everything the rules may need in a few batched reads (CheckContext); each
rule type is a module in this package with `validate(params) -> params` (raises
ParameterError with a clear message) and `evaluate(params, ctx) -> Outcome`. Checks never
query the database themselves, except through the lazy helpers on the context.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from apps.trading.models import is_sell
from apps.trading.pricing import notional, valuation_price

ZERO = Decimal("0")
ONE = Decimal("1")


class ParameterError(ValueError):
    """A rule's parameters are invalid; the message says which and why."""


@dataclass(frozen=True)
class InstrumentInfo:
    id: int
    symbol: str
    asset_class: str
    sector: str
    issuer: str
    mic: str
    calendar: str
    currency: str
    lot_size: Decimal
    tick_size: Decimal
    underlying_issuer: str = ""  # for derivatives: the issuer of the underlying
    multiplier: Decimal = ONE  # contract size: notional = quantity x price x multiplier


@dataclass(frozen=True)
class OrderIntent:
    """The order being checked (a new one, or an amended one with `order_id` set)."""

    account_id: int
    account_code: str
    instrument: InstrumentInfo
    side: str  # buy / sell / sell_short / sell_short_exempt
    order_type: str  # market / limit
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: str
    metadata: dict[str, Any]
    client_order_id: str
    submitted_by: str = ""  # username
    order_id: int | None = None

    @property
    def signed_quantity(self) -> Decimal:
        return -self.quantity if is_sell(self.side) else self.quantity


@dataclass(frozen=True)
class LocateInfo:
    """The account's locate that a short sale names (`metadata.locate_id`)."""

    id: int
    instrument_id: int
    lender: str
    quantity: Decimal
    used: Decimal  # by the other short sales that name it (`apps.trading.models.locate_used`)
    expires_at: datetime

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.used


CROSSING_LIMIT = 10  # crossing orders read at most: enough to name one and say there are more


@dataclass(frozen=True)
class CrossingOrder:
    """A working order (accepted, partially filled, held) on the other side of the order being
    checked, in its instrument, of its account or of another account of its beneficial owner,
    at a price the order would trade against (a market order on either side crosses)."""

    id: int
    client_order_id: str
    account_id: int
    account_code: str
    beneficial_owner: str  # the owner's name
    side: str
    order_type: str
    limit_price: Decimal | None
    open_quantity: Decimal
    status: str


@dataclass
class CheckContext:
    order: OrderIntent
    now: datetime
    reference_price: Decimal | None
    reference_as_of: datetime | None
    # A market order's protection band (%): the narrowest of the price collars that apply to
    # it (engine.RuleSet.market_band); None when no collar applies.
    market_band_pct: Decimal | None = None
    # this account and instrument
    position: Decimal = ZERO  # signed net quantity now
    working_buy: Decimal = ZERO  # open buy quantity, less the order's own when it is stored
    working_sell: Decimal = ZERO
    # the account as a whole: instrument id -> gross value (|position| * price + open notional)
    exposure_by_instrument: dict[int, Decimal] = field(default_factory=dict)
    sector_by_instrument: dict[int, str] = field(default_factory=dict)
    account_credit_limit: Decimal = ZERO
    account_open_notional: Decimal = ZERO  # all working orders of the account
    today_orders: int = 0  # submitted today (UTC), before this one
    today_cancels: int = 0
    today_filled_notional: Decimal = ZERO
    today_filled_quantity: Decimal = ZERO  # this instrument
    orders_last_minute: int = 0
    # messages (new orders, amendments, cancels) before this one: of the account, and of the
    # submitter on every account (apps.trading.models.OrderMessage)
    account_messages_last_second: int = 0
    account_messages_last_minute: int = 0
    user_messages_last_second: int = 0
    user_messages_last_minute: int = 0
    account_is_market_maker: bool = False
    # whether the submitter is entitled to the account (apps.trading AccountEntitlement; Risk
    # Manager and above are entitled to every account); None when nobody asked (no submitter,
    # or no market-access rule active)
    submitter_entitled: bool | None = None
    # working orders of the account's beneficial owner this order would cross (self_trade),
    # this account's first, then oldest first; at most CROSSING_LIMIT
    crossing_orders: list[CrossingOrder] = field(default_factory=list)
    # restricted-list entries effective now that match: {"kind", "target", "reason"}
    restrictions: list[dict[str, Any]] = field(default_factory=list)
    # kill switches in force on this order: (scope, target, state, reason), oldest first
    kill_switches: list[tuple[str, str, str, str]] = field(default_factory=list)
    # the account's locate a short sale names, if it is on record
    locate: LocateInfo | None = None
    # Money: every amount above is in the account's base currency. `fx_rate` converts the
    # order's own amounts (instrument currency -> base; None: no fresh rate); `fx_missing` names
    # the currencies of the account's other amounts that no fresh rate converts (left out of
    # the sums above: a rule that adds them up must fail closed).
    base_currency: str = ""
    fx_rate: Decimal | None = ONE
    fx_missing: frozenset[str] = frozenset()
    # The firm as a whole (read only when a firm_capital rule is active): its working and
    # today's filled notional in the firm's currency, the order's conversion into it, and the
    # currencies no fresh rate converts.
    firm_currency: str = ""
    firm_used: Decimal = ZERO
    fx_rate_firm: Decimal | None = ONE
    firm_fx_missing: frozenset[str] = frozenset()
    # lazy lookups (one query when a rule asks)
    duplicate_within: Callable[[int], bool] = lambda seconds: False
    is_open: Callable[[str, datetime], bool | None] = lambda calendar, when: None
    role_lookup: Callable[[], str] = lambda: ""

    @property
    def user_role(self) -> str:
        """The submitter's role slug (looked up when a rule asks: one query at most)."""
        return self.role_lookup()

    @property
    def price(self) -> Decimal | None:
        """The price that values the order (apps.trading.pricing), at today's reference price:
        its limit, or a market order's protected price."""
        return valuation_price(
            self.order.limit_price,
            self.reference_price,
            side=self.order.side,
            band_pct=self.market_band_pct,
        )

    @property
    def notional_local(self) -> Decimal | None:
        """quantity x price x multiplier, in the instrument's currency (None: no price)."""
        return notional(self.order.quantity, self.price, self.order.instrument.multiplier)

    @property
    def notional(self) -> Decimal | None:
        """The order's notional in the account's base currency (None: no price, or no fresh FX
        rate; `unvalued` says which)."""
        local = self.notional_local
        if local is None or self.fx_rate is None:
            return None
        return local * self.fx_rate

    def money(self, amount: Decimal | None) -> str:
        """An amount in the base currency as a message shows it: "2733055 USD"."""
        return f"{fmt(amount)} {self.base_currency}".rstrip()

    @property
    def conversion(self) -> str:
        """How the order's notional was converted, for messages ("" when it was not)."""
        currency = self.order.instrument.currency
        if not self.base_currency or currency == self.base_currency or self.fx_rate is None:
            return ""
        local = self.notional_local
        return f" ({fmt(local)} {currency} at {fmt(self.fx_rate)})"

    @property
    def projected_position(self) -> Decimal:
        """Worst case after this order: the position plus every open order on its side."""
        if is_sell(self.order.side):
            return self.position - self.working_sell - self.order.quantity
        return self.position + self.working_buy + self.order.quantity


@dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str
    observed: Any = None
    threshold: Any = None
    code: str = ""  # a stable reason code, e.g. "price_outside_collar"
    skipped: bool = False


def passed(message: str, observed=None, threshold=None) -> Outcome:
    return Outcome(True, message, observed, threshold)


def failed(code: str, message: str, observed=None, threshold=None) -> Outcome:
    return Outcome(False, message, observed, threshold, code)


def skipped(message: str) -> Outcome:
    return Outcome(True, message, skipped=True)


def fx_unavailable(ctx: CheckContext, threshold, currencies, target: str) -> Outcome:
    """Fail closed: an amount in `currencies` cannot be compared with a limit in `target`
    because no fresh FX rate converts it (apps.trading.fx)."""
    names = ", ".join(sorted(currencies))
    return failed(
        "fx_rate_unavailable",
        f"No fresh FX rate converts {names} into {target} (missing, or older than "
        f"{settings.FX_RATE_MAX_AGE_SECONDS} s): the limit cannot be checked.",
        None,
        fmt(threshold),
    )


def unvalued(ctx: CheckContext, threshold, *, account_wide: bool = False) -> Outcome | None:
    """Why the order (and, with `account_wide`, the account's other amounts) cannot be valued
    in the account's base currency, as a failing outcome; None when they can."""
    if ctx.price is None:
        return notional_unknown(threshold)
    missing = set(ctx.fx_missing) if account_wide else set()
    if ctx.fx_rate is None:
        missing.add(ctx.order.instrument.currency)
    if missing:
        return fx_unavailable(ctx, threshold, missing, ctx.base_currency)
    return None


def notional_unknown(threshold) -> Outcome:
    """Fail closed: the order has no limit price and its instrument no reference price."""
    return failed(
        "no_price",
        "No limit price and no reference price: the order's notional is unknown.",
        None,
        fmt(threshold),
    )


# --- parameter helpers ------------------------------------------------------------------------


def decimal_param(
    params: dict,
    name: str,
    *,
    default=None,
    positive: bool = False,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal:
    raw = params.get(name, default)
    if raw is None:
        raise ParameterError(f"{name} is required")
    if isinstance(raw, float | bool):
        raise ParameterError(f"{name} must be a decimal string, not {type(raw).__name__}")
    try:
        value = Decimal(str(raw))
    except Exception:  # noqa: BLE001 - any parse failure is the same error
        raise ParameterError(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite():
        raise ParameterError(f"{name} must be finite")
    if positive and value <= 0:
        raise ParameterError(f"{name} must be greater than zero")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be at most {maximum}")
    return value


def int_param(
    params: dict, name: str, *, default=None, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = params.get(name, default)
    if raw is None:
        raise ParameterError(f"{name} is required")
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ParameterError(f"{name} must be an integer")
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be at most {maximum}")
    return value


def bool_param(params: dict, name: str, *, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise ParameterError(f"{name} must be true or false")
    return value


def str_list_param(params: dict, name: str, *, default=None) -> list[str]:
    raw = params.get(name, default)
    if raw is None:
        raise ParameterError(f"{name} is required")
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ParameterError(f"{name} must be a list of strings")
    return list(raw)


def one_or_more_limits(params: dict, names: tuple[str, ...]) -> dict:
    """Parameters that are all optional positive limits, at least one of them given."""
    no_extra_params(params, set(names))
    out = {
        name: str(decimal_param(params, name, positive=True))
        for name in names
        if params.get(name) is not None
    }
    if not out:
        raise ParameterError(f"{' or '.join(names)} is required (or both)")
    return out


def share_limit_params(params: dict, *, default_pct: str) -> dict:
    """The parameters of the concentration rules: a maximum share in % and the portfolio size
    below which a share is not judged."""
    no_extra_params(params, {"max_pct", "min_portfolio_value"})
    pct = decimal_param(params, "max_pct", default=default_pct, positive=True, maximum=Decimal(100))
    floor = decimal_param(params, "min_portfolio_value", default="0", minimum=ZERO)
    return {"max_pct": str(pct), "min_portfolio_value": str(floor)}


def no_extra_params(params: dict, allowed: set[str]) -> None:
    extra = set(params) - allowed
    if extra:
        raise ParameterError(f"unknown parameters: {', '.join(sorted(extra))}")


_EIGHT = Decimal("0.00000001")


def fmt(value: Decimal | None) -> str | None:
    """A Decimal as a plain string for check results ("0.8", "5"), at most 8 decimals."""
    if value is None:
        return None
    text = f"{value:f}"
    point = text.find(".")
    if point >= 0:
        if len(text) - point > 9:  # more than 8 decimals: round (checks run on every order)
            text = f"{value.quantize(_EIGHT):f}"
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
