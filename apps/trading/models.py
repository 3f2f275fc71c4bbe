"""The trading domain: who trades (accounts), what (instruments), at what price, and the book."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from apps.core.calendars import calendar_code
from apps.core.types import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, decimal_str
from apps.rbac.access import has_role
from apps.rbac.models import PersonIdentity
from apps.rbac.roles import Role
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


# Risk Manager and above see and trade every account; below, only the accounts a user is
# entitled to (AccountEntitlement). SEC 15c3-5(c)(2)(iii): only pre-approved persons reach an
# account.
EVERY_ACCOUNT_ROLE = Role.RISK_MANAGER
RESTRICT_ACTIONS = {"view": Role.VIEWER, "trade": Role.TRADER}


def sees_every_account(user) -> bool:
    return has_role(user, EVERY_ACCOUNT_ROLE)


class EntitledQuerySet(models.QuerySet):
    """`Model.objects.restrict(user, action)`, NetBox's way: the rows of the accounts `user`
    may `action` ("view" or "trade"). Everything for Risk Manager and above; the entitled
    accounts' rows for a Viewer ("view") or a Trader; nothing for anyone else (no role, the
    Feed identity). One subquery in the same statement: no query of its own."""

    def restrict(self, user, action: str = "view") -> "EntitledQuerySet":
        needed = RESTRICT_ACTIONS[action]
        if sees_every_account(user):
            return self
        if not has_role(user, needed):
            return self.none()
        entitled = AccountEntitlement.objects.filter(user_id=user.pk).values("account_id")
        return self.filter(**{f"{self.model.entitled_via}__in": entitled})


code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", "Letters, digits and . _ / - only."
)


class BeneficialOwner(models.Model):
    """The person or firm who owns an account's assets. Accounts of one owner count as one:
    surveillance's wash trades, the self-trade and same-owner cross rule."""

    name = models.CharField(max_length=200)
    name_key = models.CharField(
        max_length=200,
        unique=True,
        editable=False,
        help_text="The name as compared (apps.trading.owners): case, spacing and a "
        "person's 'Last, First' order do not make another owner.",
    )
    lei = models.CharField(
        "LEI",
        max_length=20,
        blank=True,
        validators=[validate_lei],
        help_text="ISO 17442 Legal Entity Identifier of a firm; empty for a natural person.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["lei"], condition=~Q(lei=""), name="beneficial_owner_lei_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ClientPerson(PersonIdentity):
    """The identity of a beneficial owner who is a natural person, as MiFIR reports a client
    (RTS 22 fields 7-11 and 16-20): personal data, kept apart from the owner's name so that only
    Compliance Officers and above see it."""

    owner = models.OneToOneField(BeneficialOwner, on_delete=models.CASCADE, related_name="person")

    class Meta:
        verbose_name = "client identity (MiFIR)"
        verbose_name_plural = "client identities (MiFIR)"

    def __str__(self) -> str:
        return f"{self.owner} (MiFIR identity)"


class TaxIdKind(models.TextChoices):
    NONE = "", "none on record"
    SSN = "SSN", "US Social Security number"
    ITIN = "ITIN", "US Individual Taxpayer Identification Number"
    EIN = "EIN", "US Employer Identification Number"
    FOREIGN = "FRGN", "foreign tax identifier"


class CustomerRecord(models.Model):
    """A beneficial owner as the firm's books name it for SEC requests (Rule 17a-25 blue
    sheets): legal name, postal address and tax identifier (the large trader identifier is the
    account's, as CAT reads it). Personal data, kept apart from the owner's name: Compliance
    Officers and above see it, and the trail names the fields that changed, never their
    values."""

    owner = models.OneToOneField(
        BeneficialOwner, on_delete=models.CASCADE, related_name="customer_record"
    )
    legal_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="As on the account documents; empty: the owner's name.",
    )
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, help_text="US state or territory code.")
    postal_code = models.CharField(max_length=16, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 country code.")],
    )
    tax_id = models.CharField(
        "tax identifier",
        max_length=20,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9-]*$", "Letters, digits and - only.")],
    )
    tax_id_kind = models.CharField(max_length=4, choices=TaxIdKind.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "customer record (blue sheets)"
        verbose_name_plural = "customer records (blue sheets)"

    def __str__(self) -> str:
        return f"{self.owner} (customer record)"

    def clean(self) -> None:
        if self.tax_id and not self.tax_id_kind:
            raise ValidationError({"tax_id_kind": "Say what kind of tax identifier it is."})


class TradingCapacity(models.TextChoices):
    """RTS 22 field 29: how the firm traded."""

    DEAL = "DEAL", "Dealing on own account"
    MTCH = "MTCH", "Matched principal"
    AOTC = "AOTC", "Any other capacity (agency for the client)"


class ClientCategory(models.TextChoices):
    """MiFID II client categories (art. 4(1)(11) retail, Annex II professional, art. 30
    eligible counterparty). A client is retail unless categorised otherwise."""

    RETAIL = "retail", "Retail client"
    PROFESSIONAL = "professional", "Professional client"
    ELIGIBLE_COUNTERPARTY = "eligible_counterparty", "Eligible counterparty"


class CatAccountHolderType(models.TextChoices):
    """CAT accountHolderType (CAT IM Technical Specifications 4.0.0, data dictionary)."""

    INSTITUTIONAL = "A", "Institutional customer"
    EMPLOYEE = "E", "Employee account"
    FOREIGN = "F", "Foreign"
    INDIVIDUAL = "I", "Individual customer"
    MARKET_MAKING = "O", "Market making"
    AGENCY_AVERAGE_PRICE = "V", "Agency average price"
    PROPRIETARY = "P", "Other proprietary"
    ERROR = "X", "Error account"


class Account(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    beneficial_owner = models.ForeignKey(
        BeneficialOwner,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text="Accounts with the same beneficial owner count as one (wash trades, "
        "self-trade prevention).",
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
        help_text="ISO 17442 Legal Entity Identifier of the account's holder, for MiFIR reports; "
        "empty: the holder is the beneficial owner (a natural person's identity on record).",
    )
    trading_capacity = models.CharField(
        max_length=4,
        choices=TradingCapacity.choices,
        default=TradingCapacity.DEAL,
        help_text="MiFIR field 29. DEAL: the firm's own book, the firm is buyer or seller. "
        "AOTC/MTCH: the client is. An order may override it (metadata.trading_capacity).",
    )
    decision_maker = models.ForeignKey(
        BeneficialOwner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who decides for the client under a power of attorney (MiFIR fields 12-15 "
        "and 21-24); empty when the client decides.",
    )
    webhook_url = models.URLField(blank=True, help_text="Where order outcomes are sent.")
    webhook_secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC key for signing the webhooks."
    )
    client_category = models.CharField(
        max_length=24,
        choices=ClientCategory.choices,
        default=ClientCategory.RETAIL,
        help_text="MiFID II client category. Retail unless the client has been categorised as "
        "professional or as an eligible counterparty (the protection MiFID II gives by default). "
        "Best-execution reports are split by it.",
    )
    is_market_maker = models.BooleanField(
        default=False,
        help_text="Quotes both sides all session (cancels and replaces): exempt from the "
        "cancel-ratio rule, not from message limits.",
    )
    cat_fdid = models.CharField(
        "CAT FDID",
        max_length=40,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9]{1,40}$", "At most 40 letters and digits (CAT firmDesignatedID)."
            )
        ],
        help_text="The Firm Designated ID the firm reports this account under in FINRA CAT "
        "(never an account number or tax id). Changed under maker-checker "
        "(account_cat_identifiers).",
    )
    cat_account_holder_type = models.CharField(
        "CAT account holder type",
        max_length=1,
        choices=CatAccountHolderType.choices,
        blank=True,
        help_text="CAT accountHolderType of the account's orders.",
    )
    large_trader_id = models.CharField(
        "LTID",
        max_length=13,
        blank=True,
        validators=[
            RegexValidator(
                r"^[0-9]{8}-[0-9]{4}$", "An SEC Rule 13h-1 LTID: 8 digits, a dash, 4 digits."
            )
        ],
        help_text="The large trader identifier (SEC Rule 13h-1) of the account's holder, if any.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EntitledQuerySet.as_manager()
    entitled_via = "pk"

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0), name="account_credit_limit_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AccountEntitlement(models.Model):
    """A user may see (Viewer) and trade (Trader) this account. Written only by
    `entitlement_grant` / `entitlement_revoke` (audited); the market-access rule reads it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="entitlements")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "account_id"]
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="entitlement_once")]

    def __str__(self) -> str:
        return f"{self.user} → {self.account.code}"


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    ETF = "etf", "Exchange-traded fund"
    BOND = "bond", "Bond"
    FUTURE = "future", "Future"
    OPTION = "option", "Option"
    CRYPTO = "crypto", "Crypto asset"


DERIVATIVE_CLASSES = {AssetClass.FUTURE, AssetClass.OPTION}
EQUITY_CLASSES = frozenset({AssetClass.EQUITY, AssetClass.ETF})
# US equity venues (ISO 10383: the exchanges, their segments, the FINRA facility, OTC markets).
US_EQUITY_MICS = frozenset(
    {
        "XNYS", "XASE", "ARCX", "XCHI", "XCIS",  # NYSE group
        "XNAS", "XNGS", "XNCM", "XNMS", "XBOS", "XPHL",  # Nasdaq group
        "BATS", "BATY", "EDGA", "EDGX",  # Cboe
        "IEXG", "MEMX", "LTSE", "EPRL", "XADF", "OTCM", "XOTC",
    }
)  # fmt: skip


def is_us_equity(*, asset_class: str, mic: str, currency: str) -> bool:
    """Whether Reg SHO's locate applies: shares or ETF units (asset class `equity` or `etf`)
    listed on a US venue, or quoted in US dollars wherever they list (an ADR, a dual listing).
    In doubt, a locate is asked for rather than skipped."""
    return asset_class in EQUITY_CLASSES and (mic in US_EQUITY_MICS or currency == "USD")


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
    mifir_reportable = models.BooleanField(
        "MiFIR reportable",
        default=False,
        help_text="In the scope of MiFIR art. 26: admitted to trading or traded on an EU trading "
        "venue, or with such an underlying (FIRDS). Transaction reports include only these.",
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

    @property
    def is_us_equity(self) -> bool:
        return is_us_equity(asset_class=self.asset_class, mic=self.mic, currency=self.currency)


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
    """Reg SHO 200(g) marks every sale long (`sell`), short, or short exempt."""

    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    SELL_SHORT = "sell_short", "Sell short"
    SELL_SHORT_EXEMPT = "sell_short_exempt", "Sell short exempt"


# The sides that sell: a short sale moves the position, the working exposure and every limit
# exactly as a long sale does; only its marking differs.
SELL_SIDES = frozenset({Side.SELL, Side.SELL_SHORT, Side.SELL_SHORT_EXEMPT})
SHORT_SIDES = frozenset({Side.SELL_SHORT, Side.SELL_SHORT_EXEMPT})


def is_sell(side: str) -> bool:
    return side in SELL_SIDES


def side_direction(side: str) -> str:
    """`buy` or `sell`: which way the side moves the position, whatever its marking."""
    return Side.SELL.value if side in SELL_SIDES else Side.BUY.value


def signed_quantity(side: str, quantity: Decimal) -> Decimal:
    """The quantity as it moves the position: positive for a buy, negative for every sale."""
    return -quantity if side in SELL_SIDES else quantity


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"


class TimeInForce(models.TextChoices):
    DAY = "day", "Day"
    GTC = "gtc", "Good till canceled"
    IOC = "ioc", "Immediate or cancel"
    FOK = "fok", "Fill or kill"
    GTD = "gtd", "Good till date"


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
    side = models.CharField(max_length=20, choices=Side.choices)
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
    market_band_pct = amount_field(
        null=True,
        blank=True,
        help_text="A market order's protection band (%) at submission: it may not trade beyond "
        "the reference price moved by this much against it (apps.trading.pricing).",
    )
    metadata = models.JSONField(default=dict, blank=True)
    locate = models.ForeignKey(
        "Locate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="The locate a short sale names (metadata.locate_id): it uses its quantity.",
    )
    checks = models.JSONField(
        default=list, blank=True, help_text="Each pre-trade rule's result at submission."
    )
    request_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the submitted body (idempotency)."
    )
    expire_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the order expires if still working: its session's close (day), the "
        "gate's time plus the grace (ioc, fok), the given time (gtd); empty for gtc.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

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
        indexes = [
            # an account's working orders in an instrument, on one side (the self-trade
            # rule's crossing orders, the duplicate check, the kill switch's snapshot)
            models.Index(
                fields=["account", "instrument", "side", "status"], name="order_by_book_side"
            ),
            # the order rate and message counts: an account's orders since a time
            models.Index(fields=["account", "created_at"], name="order_by_account_time"),
            # The expiry pass: working orders whose expire_at has passed (a small partial index).
            models.Index(
                fields=["expire_at"],
                condition=Q(status__in=sorted(WORKING_STATUSES)),
                name="order_expiry_due",
            ),
        ]

    def __str__(self) -> str:
        quantity = decimal_str(self.quantity)
        return f"#{self.pk} {self.side} {quantity} {self.instrument} ({self.status})"

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES


class Liquidity(models.TextChoices):
    ADDED = "added", "Added (maker)"
    REMOVED = "removed", "Removed (taker)"


class FillStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BUSTED = "busted", "Busted"


class Fill(models.Model):
    """An execution. A correction changes its quantity and price in place (the values first
    booked are kept in `original_quantity` and `original_price`, every step in the trail) and
    counts up its `version`; a bust takes it out of every position, counter and report, and it
    stays on record as `busted`."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    exec_id = models.CharField(max_length=64, unique=True)
    quantity = amount_field()
    price = amount_field()
    venue = models.CharField("venue MIC", max_length=4, validators=[validate_mic])
    counterparty_lei = models.CharField(
        "counterparty LEI",
        max_length=20,
        blank=True,
        validators=[validate_lei],
        help_text="The other side of an off-venue (XOFF) execution, for MiFIR reports.",
    )
    executed_at = models.DateTimeField(db_index=True)
    commission = amount_field(default=Decimal("0"))
    liquidity = models.CharField(max_length=8, choices=Liquidity.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=8, choices=FillStatus.choices, default=FillStatus.ACTIVE, db_index=True
    )
    version = models.PositiveIntegerField(
        default=1, help_text="1 as booked; one more for each correction."
    )
    original_quantity = amount_field(null=True, blank=True)
    original_price = amount_field(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    change_reason = models.CharField(max_length=500, blank=True)

    objects = EntitledQuerySet.as_manager()
    entitled_via = "order__account"

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

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

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

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

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

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

    class Meta:
        ordering = ["-date", "account"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="daily_activity_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}"


class Locate(models.Model):
    """A locate (SEC Reg SHO 203(b)(1)): a lender's word that it can lend `quantity` shares of
    the instrument to the account until `expires_at`. A short sale of a US equity names one in
    `metadata.locate_id`; each short sale that names it uses its quantity (`locate_used`)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="locates")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="locates")
    lender = models.CharField(max_length=200, help_text="Who will lend the shares.")
    reference = models.CharField(
        max_length=64, help_text="The lender's reference for the locate (its confirmation)."
    )
    quantity = amount_field(help_text="Shares located.")
    expires_at = models.DateTimeField(help_text="Good for short sales until then.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="locate_quantity_positive")
        ]
        indexes = [
            models.Index(fields=["account", "instrument", "expires_at"], name="locate_in_force")
        ]

    def __str__(self) -> str:
        return f"Locate {self.pk}: {self.quantity} {self.instrument_id} from {self.lender}"

    @property
    def used_quantity(self) -> Decimal:
        """What the short sales naming it use (their rows prefetched as `using_orders` by the
        selector, else read here)."""
        orders = getattr(self, "using_orders", None)
        if orders is None:
            orders = self.orders.exclude(status=OrderStatus.REJECTED)
        return locate_used((o.status, o.quantity, o.filled_quantity) for o in orders)

    @property
    def remaining_quantity(self) -> Decimal:
        return max(self.quantity - self.used_quantity, Decimal("0"))


def locate_used(orders) -> Decimal:
    """How much of a locate the short sales naming it use, from their (status, quantity,
    filled quantity): a working order (held ones too) its whole quantity, an order that ended
    what it filled (a cancel or an expiry gives the rest back), a rejected one nothing."""
    used = Decimal("0")
    for status, quantity, filled in orders:
        if status in WORKING_STATUSES:
            used += quantity
        elif status != OrderStatus.REJECTED:
            used += filled
    return used


def locate_ref(metadata: dict) -> int | None:
    """The locate an order names in `metadata.locate_id` (its id: a whole number, or its digits
    as a string); None when it names none. ValueError when the value cannot be an id."""
    value = metadata.get("locate_id") if isinstance(metadata, dict) else None
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValueError("locate_id must name a locate by its id (a whole number).")
    return value


class MessageKind(models.TextChoices):
    NEW = "new", "New order"
    AMEND = "amend", "Amendment"
    CANCEL = "cancel", "Cancel"


class OrderMessage(models.Model):
    """One message of the order flow: a new order, an amendment (refused ones too) or a
    cancel, by an account and a user. The message limits (MiFID II RTS 6 art. 15(1)(d)) count
    these rows per account and per user over the last second and minute; written by the order
    services in the transaction of the message, read by the gate on an index."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=8, choices=MessageKind.choices)
    sent_at = models.DateTimeField()

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["account", "sent_at"], name="order_message_by_account"),
            models.Index(fields=["user", "sent_at"], name="order_message_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.order_id} {self.sent_at:%H:%M:%S.%f}"


class AccountDailyFilled(models.Model):
    """Per account, UTC day and currency: the notional filled (quantity x price x multiplier),
    kept in the instruments' own currency so that the credit and volume limits convert it at
    the rate of the moment they judge (and the firm-wide capital threshold sums it)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_filled")
    date = models.DateField()
    currency = models.CharField(max_length=3)
    filled_notional = amount_field(default=Decimal("0"))

    objects = EntitledQuerySet.as_manager()
    entitled_via = "account"

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
