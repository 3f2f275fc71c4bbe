"""The trading domain: who trades (accounts), what (instruments), at what price, and the book."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from apps.core.calendars import calendar_code
from apps.core.types import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from apps.trading.validators import (
    validate_currency,
    validate_isin,
    validate_lei,
    validate_mic,
)


def amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs
    )


def firm_currency() -> str:
    """The firm's own currency (settings.FIRM_CURRENCY): a new account's base currency by
    default, and the currency of the firm-wide capital threshold."""
    return settings.FIRM_CURRENCY


def validate_positive(value) -> None:
    if value is None or value <= 0:
        raise ValidationError("Must be greater than zero.", code="not_positive")


code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", "Letters, digits and . _ / - only."
)


class Account(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    beneficial_owner = models.CharField(
        max_length=200,
        db_index=True,
        help_text="Accounts with the same beneficial owner count as one person (wash trades).",
    )
    base_currency = models.CharField(
        max_length=3,
        default=firm_currency,
        validators=[validate_currency],
        help_text="ISO 4217. The account's limits are amounts in it: orders and exposures in "
        "other currencies are converted at the latest FX rate.",
    )
    credit_limit = amount_field(default=Decimal("0"), validators=[MinValueValidator(0)])
    lei = models.CharField(
        "LEI",
        max_length=20,
        blank=True,
        validators=[validate_lei],
        help_text="ISO 17442 Legal Entity Identifier, for MiFIR reports.",
    )
    webhook_url = models.URLField(blank=True, help_text="Where order outcomes are sent.")
    webhook_secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC key for signing the webhooks."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0), name="account_credit_limit_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    ETF = "etf", "Exchange-traded fund"
    BOND = "bond", "Bond"
    FUTURE = "future", "Future"
    OPTION = "option", "Option"
    CRYPTO = "crypto", "Crypto asset"


DERIVATIVE_CLASSES = {AssetClass.FUTURE, AssetClass.OPTION}


class Instrument(models.Model):
    symbol = models.CharField(max_length=32, unique=True, validators=[code_validator])
    isin = models.CharField("ISIN", max_length=12, unique=True, validators=[validate_isin])
    mic = models.CharField(
        "MIC", max_length=4, validators=[validate_mic], help_text="ISO 10383 venue code."
    )
    calendar = models.CharField(
        max_length=16,
        blank=True,
        help_text="exchange-calendars code for its trading hours; empty means the MIC's.",
    )
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices)
    sector = models.CharField(max_length=64, db_index=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    cfi = models.CharField(
        "CFI",
        max_length=6,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{6}$", "Six capital letters (ISO 10962).")],
    )
    issuer = models.CharField(max_length=200, blank=True, db_index=True)
    underlying = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derivatives"
    )
    lot_size = amount_field(default=Decimal("1"))
    tick_size = amount_field(default=Decimal("0.01"))
    multiplier = amount_field(
        default=Decimal("1"),
        validators=[validate_positive],
        help_text="Contract size: what one unit of quantity at a price of 1 is worth (100 for "
        "a US equity option, 50 for an E-mini S&P 500 future, 1 for cash instruments). Every "
        "notional is quantity x price x multiplier.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lot_size__gt=0), name="instrument_lot_size_positive"
            ),
            models.CheckConstraint(
                condition=Q(tick_size__gt=0), name="instrument_tick_size_positive"
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gt=0), name="instrument_multiplier_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def calendar_code(self) -> str:
        return calendar_code(self.calendar, self.mic)

    @property
    def is_derivative(self) -> bool:
        return self.asset_class in DERIVATIVE_CLASSES


class ReferencePrice(models.Model):
    """A price the firm trusts at a moment (price collars, the notional of market orders)."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="reference_prices"
    )
    price = amount_field(validators=[MinValueValidator(Decimal("0.00000001"))])
    as_of = models.DateTimeField()
    source = models.CharField(max_length=64, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"
        indexes = [models.Index(fields=["instrument", "-as_of"], name="refprice_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="reference_price_positive")
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.price} @ {self.as_of:%Y-%m-%d %H:%M}"


class FxRate(models.Model):
    """An exchange rate the firm trusts at a moment: one `base` buys `rate` of `quote` (EUR/USD
    1.085: one euro is 1.085 dollars). Reference data with a time, like reference prices: the
    gate converts at the latest rate of a pair and refuses one older than
    settings.FX_RATE_MAX_AGE_SECONDS (apps.trading.fx)."""

    base = models.CharField(max_length=3, validators=[validate_currency])
    quote = models.CharField(max_length=3, validators=[validate_currency])
    rate = amount_field(validators=[validate_positive])
    as_of = models.DateTimeField()
    source = models.CharField(max_length=64, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        get_latest_by = "as_of"
        verbose_name = "FX rate"
        indexes = [models.Index(fields=["base", "quote", "-as_of"], name="fxrate_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="fx_rate_two_currencies"),
        ]

    def __str__(self) -> str:
        return f"{self.base}/{self.quote} {self.rate} @ {self.as_of:%Y-%m-%d %H:%M}"


class DailyPrice(models.Model):
    """One trading day of an instrument: open, high, low, close and volume."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="daily_prices"
    )
    date = models.DateField()
    open = amount_field()
    high = amount_field()
    low = amount_field()
    close = amount_field()
    volume = amount_field(default=Decimal("0"))

    class Meta:
        ordering = ["instrument", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "date"], name="daily_price_unique_day"),
            models.CheckConstraint(
                condition=Q(low__gt=0) & Q(low__lte=F("high")), name="daily_price_low_le_high"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.date} close {self.close}"


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"


class TimeInForce(models.TextChoices):
    DAY = "day", "Day"
    GTC = "gtc", "Good till canceled"
    IOC = "ioc", "Immediate or cancel"
    FOK = "fok", "Fill or kill"


class OrderStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired"


# Orders that may still trade: they hold working exposure against limits.
WORKING_STATUSES = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_APPROVAL}
)
# Orders that may receive fills.
FILLABLE_STATUSES = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
FINAL_STATUSES = frozenset(
    {OrderStatus.REJECTED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
)


class Order(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    client_order_id = models.CharField(max_length=64)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=8, choices=OrderType.choices)
    time_in_force = models.CharField(
        max_length=4, choices=TimeInForce.choices, default=TimeInForce.DAY
    )
    quantity = amount_field()
    limit_price = amount_field(null=True, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, db_index=True)
    filled_quantity = amount_field(default=Decimal("0"))
    avg_fill_price = amount_field(null=True, blank=True)
    reference_price = amount_field(
        null=True, blank=True, help_text="The reference price when the order was submitted."
    )
    metadata = models.JSONField(default=dict, blank=True)
    checks = models.JSONField(
        default=list, blank=True, help_text="Each pre-trade rule's result at submission."
    )
    request_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the submitted body (idempotency)."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"], name="order_client_id_unique_per_account"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="order_filled_within_quantity",
            ),
            models.CheckConstraint(
                # NULL > 0 is unknown, which a CHECK lets through: test for NULL explicitly.
                condition=Q(order_type="market")
                | (Q(limit_price__isnull=False) & Q(limit_price__gt=0)),
                name="order_limit_has_positive_price",
            ),
        ]
        indexes = [models.Index(fields=["account", "instrument", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.quantity} {self.instrument_id} ({self.status})"

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES


class Liquidity(models.TextChoices):
    ADDED = "added", "Added (maker)"
    REMOVED = "removed", "Removed (taker)"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    exec_id = models.CharField(max_length=64, unique=True)
    quantity = amount_field()
    price = amount_field()
    venue = models.CharField("venue MIC", max_length=4, validators=[validate_mic])
    executed_at = models.DateTimeField(db_index=True)
    commission = amount_field(default=Decimal("0"))
    liquidity = models.CharField(max_length=8, choices=Liquidity.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-executed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
            models.CheckConstraint(
                condition=Q(commission__gte=0), name="fill_commission_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exec_id}: {self.quantity} @ {self.price}"


class Position(models.Model):
    """Net position: quantity is signed (short is negative); average cost of the open quantity
    (a price, per unit); realised P&L in money (multiplier included), in the instrument's
    currency."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    quantity = amount_field(default=Decimal("0"))
    average_cost = amount_field(default=Decimal("0"))
    realised_pnl = amount_field(default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument"], name="position_unique_per_account_instrument"
            ),
            models.CheckConstraint(
                condition=Q(average_cost__gte=0), name="position_average_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.instrument_id}: {self.quantity}"


class WorkingExposure(models.Model):
    """What is still open in the market (not yet filled) per account and instrument.

    Kept by the order services in the same transaction as the order change, so that limit checks
    read one row instead of summing the order book.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="exposures")
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="exposures")
    buy_quantity = amount_field(default=Decimal("0"))
    sell_quantity = amount_field(default=Decimal("0"))
    buy_notional = amount_field(default=Decimal("0"))
    sell_notional = amount_field(default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument"], name="exposure_unique_per_account_instrument"
            ),
            models.CheckConstraint(
                condition=Q(buy_quantity__gte=0)
                & Q(sell_quantity__gte=0)
                & Q(buy_notional__gte=0)
                & Q(sell_notional__gte=0),
                name="exposure_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.instrument_id}: +{self.buy_quantity} -{self.sell_quantity}"


class AccountDailyActivity(models.Model):
    """Per account and UTC day: counters that rate and credit limits read in one row."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_activity")
    date = models.DateField()
    orders_submitted = models.PositiveIntegerField(default=0)
    orders_canceled = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date", "account"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="daily_activity_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}"


class AccountDailyFilled(models.Model):
    """Per account, UTC day and currency: the notional filled (quantity x price x multiplier),
    kept in the instruments' own currency so that the credit and volume limits convert it at
    the rate of the moment they judge (and the firm-wide capital threshold sums it)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_filled")
    date = models.DateField()
    currency = models.CharField(max_length=3)
    filled_notional = amount_field(default=Decimal("0"))

    class Meta:
        ordering = ["-date", "account", "currency"]
        verbose_name = "account daily filled notional"
        verbose_name_plural = "account daily filled notional"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "date", "currency"], name="daily_filled_unique_currency"
            )
        ]
        indexes = [models.Index(fields=["date", "currency"], name="daily_filled_by_day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} {self.filled_notional} {self.currency}"
