"""Compliance rules as data, their maker-checker changes, the restricted list."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


class RegulatoryEntity(models.Model):
    code = models.CharField(max_length=16, unique=True)  # SEC, FINRA, CFTC, ESMA, FCA, BaFin
    name = models.CharField(max_length=200)
    jurisdiction = models.CharField(max_length=64)
    nca_country = models.CharField(
        "NCA country",
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 country code.")],
        help_text="The country whose national competent authority this is under MiFIR (it "
        "receives transaction reports); empty: not an NCA, no MiFIR report is made for it.",
    )

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "regulatory entities"

    def __str__(self) -> str:
        return self.code


class RuleType(models.TextChoices):
    RESTRICTED_LIST = "restricted_list", "Restricted list"
    MARKET_ACCESS = "market_access", "Market access"
    TRADING_HOURS = "trading_hours", "Trading hours"
    PRICE_COLLAR = "price_collar", "Price collar"
    PRICE_REASONABILITY = "price_reasonability", "Price reasonableness"
    QUANTITY_REASONABILITY = "quantity_reasonability", "Quantity reasonableness"
    ORDER_SIZE = "order_size", "Order size min/max"
    MAX_NOTIONAL = "max_notional", "Max notional per order"
    POSITION_LIMIT = "position_limit", "Position limit"
    GROSS_NOTIONAL = "gross_notional", "Max gross notional of the account"
    CONCENTRATION = "concentration", "Instrument concentration"
    SECTOR_CONCENTRATION = "sector_concentration", "Sector concentration"
    DAILY_VOLUME = "daily_volume", "Daily traded volume cap"
    ORDER_RATE = "order_rate", "Order rate"
    CANCEL_RATIO = "cancel_ratio", "Cancel-to-order ratio"
    DUPLICATE_ORDER = "duplicate_order", "Duplicate order"
    CREDIT_LIMIT = "credit_limit", "Credit limit"
    APPROVAL_THRESHOLD = "approval_threshold", "Approval threshold"
    DECISION_PROVENANCE = "decision_provenance", "Decision provenance"
    SHORT_SALE = "short_sale", "Short sale locate (Reg SHO 203(b))"
    SALE_MARKING = "sale_marking", "Long sale marking (Reg SHO 200(g))"
    MESSAGE_RATE = "message_rate", "Message rate (new orders, amendments, cancels)"
    SELF_TRADE = "self_trade", "Self-trade and same-owner cross"
    FIRM_CAPITAL = "firm_capital", "Firm-wide capital threshold"


class PortfolioRuleType(models.TextChoices):
    """Rules on a whole book (an account's, or the firm's), evaluated every minute of market
    hours by the monitor (apps.monitoring), never by the pre-trade engine."""

    EXPECTED_SHORTFALL = "expected_shortfall", "Expected shortfall (portfolio)"
    MAX_DRAWDOWN = "max_drawdown", "Maximum drawdown of NAV (portfolio)"
    POSITION_WEIGHT = "position_weight", "Largest position weight (portfolio)"
    SECTOR_WEIGHT = "sector_weight", "Largest sector weight (portfolio)"
    HERFINDAHL = "herfindahl", "Herfindahl-Hirschman concentration (portfolio)"
    IMPLEMENTATION_SHORTFALL = "implementation_shortfall", "Implementation shortfall (portfolio)"
    MONITOR_UPTIME = "monitor_uptime", "Monitor uptime in market hours (firm)"
    DATA_QUALITY = "data_quality", "Fresh reference prices (firm)"


PORTFOLIO_RULE_TYPES = frozenset(PortfolioRuleType.values)


class RuleScope(models.TextChoices):
    FIRM = "firm", "Firm"
    ACCOUNT = "account", "Account"
    INSTRUMENT = "instrument", "Instrument"
    SECTOR = "sector", "Sector"
    ASSET_CLASS = "asset_class", "Asset class"


class RuleAction(models.TextChoices):
    REJECT = "reject", "Reject"
    HOLD = "hold", "Hold for approval"
    WARN = "warn", "Warn"


class RuleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    ACTIVE = "active", "Active"
    TESTING = "testing", "Testing (shadow)"
    INACTIVE = "inactive", "Inactive"


class ComplianceRule(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rule_type = models.CharField(
        max_length=32, choices=RuleType.choices + PortfolioRuleType.choices
    )
    parameters = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=16, choices=RuleScope.choices, default=RuleScope.FIRM)
    scope_value = models.CharField(
        max_length=64, blank=True, help_text="Account code, symbol, sector or asset class."
    )
    action = models.CharField(max_length=8, choices=RuleAction.choices, default=RuleAction.REJECT)
    status = models.CharField(
        max_length=20, choices=RuleStatus.choices, default=RuleStatus.DRAFT, db_index=True
    )
    effective_from = models.DateTimeField(null=True, blank=True)
    effective_until = models.DateTimeField(null=True, blank=True)
    regulatory_entity = models.ForeignKey(
        RegulatoryEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    regulation = models.CharField(max_length=128, blank=True)
    priority = models.IntegerField(default=100, help_text="Lower runs and reports first.")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="firm") | ~Q(scope_value=""), name="rule_scope_has_value"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_rule_type_display()})"


class RuleChangeKind(models.TextChoices):
    CREATE = "create", "Create"
    EDIT = "edit", "Edit"
    ACTIVATE = "activate", "Activate"
    TEST = "test", "Start shadow testing"
    RETIRE = "retire", "Retire"


class RuleChangeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class RuleChange(models.Model):
    """A proposed change to a rule: it takes effect only when another officer approves it."""

    rule = models.ForeignKey(
        ComplianceRule, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    kind = models.CharField(max_length=8, choices=RuleChangeKind.choices)
    proposed = models.JSONField(help_text="The rule's fields after the change.")
    before = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=RuleChangeStatus.choices, default=RuleChangeStatus.PENDING
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rule_changes_proposed"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rule_changes_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at"]

    def __str__(self) -> str:
        target = self.rule.code if self.rule else self.proposed.get("code", "?")
        return f"{self.kind} {target} ({self.status})"


class RuleVersion(models.Model):
    rule = models.ForeignKey(ComplianceRule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    change = models.ForeignKey(RuleChange, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique")
        ]


class RuleSetVersion(models.Model):
    """One row, bumped whenever any rule or list changes: engines reload their cached rule set."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=1)


class RestrictedListEntry(models.Model):
    """An instrument or an issuer that may not be traded (and, for an issuer, its derivatives)."""

    instrument = models.ForeignKey(
        "trading.Instrument",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="restrictions",
    )
    issuer = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name_plural = "restricted list entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__isnull=False) | ~Q(issuer=""),
                name="restricted_entry_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument or self.issuer}: {self.reason}"


class WatchListEntry(models.Model):
    """An issuer or instrument about which the firm holds, or expects to hold, inside
    information (a mandate, a deal team wall-crossed). Confidential and not a trading block:
    unlike the restricted list the gate never reads it; surveillance looks for trading ahead
    of its additions (MAR art. 8, 14)."""

    instrument = models.ForeignKey(
        "trading.Instrument",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="watch_entries",
    )
    issuer = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = "watch list entry"
        verbose_name_plural = "watch list entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__isnull=False) | ~Q(issuer=""),
                name="watch_entry_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument or self.issuer}: {self.reason}"
