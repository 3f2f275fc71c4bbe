"""Regulatory reports: each generated file, its integrity digest and its filing status."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ReportType(models.TextChoices):
    DAILY_TRADING = "daily_trading", "Daily trading"
    POSITIONS = "positions", "Positions"
    MIFIR_TRANSACTIONS = "mifir_transactions", "MiFIR transactions (RTS 22)"
    BEST_EXECUTION = "best_execution", "Best execution"
    COMPLIANCE = "compliance", "Compliance"
    BLOTTER = "blotter", "Purchase and sales blotter (SEC 17a-3(a)(1))"
    ORDER_TICKETS = "order_tickets", "Order tickets (SEC 17a-3(a)(6))"
    BLUE_SHEETS = "blue_sheets", "Blue sheets (SEC 17a-25, on request)"
    RULE_606 = "rule_606", "Order routing (SEC 606(a)(1))"
    CAT_EVENTS = "cat_events", "FINRA CAT order events"
    STOR = "stor", "Suspicious transaction and order report (MAR art. 16)"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
    XML = "xml", "XML"
    PDF = "pdf", "PDF"


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


PERIOD_FORMAT_VERSION = ["period_start", "period_end", "format", "version"]


def report_upload_to(instance: "RegulatoryReport", filename: str) -> str:
    return f"reports/{instance.report_type}/{instance.period_end:%Y/%m}/{filename}"


class RegulatoryReport(models.Model):
    """One generated report file. A re-run of the same report makes a new version."""

    report_type = models.CharField(max_length=24, choices=ReportType.choices, db_index=True)
    regulatory_entity = models.ForeignKey(
        "rules.RegulatoryEntity",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
        help_text="The regulator the report is filed with (none for internal reports).",
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive; the as-of date of a positions report.")
    format = models.CharField(max_length=4, choices=ReportFormat.choices)
    version = models.PositiveIntegerField(default=1)
    file = models.FileField(upload_to=report_upload_to, max_length=255)
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    record_count = models.PositiveIntegerField()
    summary = models.JSONField(default=dict, blank=True, help_text="Totals shown on the page.")
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="What a report on request was asked for (blue sheets: the symbol and the "
        "regulator's request reference); empty for the others.",
    )
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT, db_index=True
    )
    submission_reference = models.CharField(max_length=128, blank=True)
    regulator_response = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    schedule = models.CharField(
        max_length=200, blank=True, help_text="The beat schedule that built it (no user then)."
    )
    generated_at = models.DateTimeField(db_index=True)
    stale_since = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When a fill booked after the report was built first landed in its period: "
        "the report needs a re-run. Cleared when its next version is built.",
    )
    stale_fills = models.PositiveIntegerField(
        default=0, help_text="Fills booked since it was built that land in its period."
    )

    class Meta:
        ordering = ["-generated_at", "-id"]
        constraints = [
            # One version number per report (entity or none: two partial indexes, because
            # NULLs never collide in a plain unique index).
            models.UniqueConstraint(
                fields=["report_type", "regulatory_entity", *PERIOD_FORMAT_VERSION],
                condition=Q(regulatory_entity__isnull=False),
                name="report_version_unique",
            ),
            models.UniqueConstraint(
                fields=["report_type", *PERIOD_FORMAT_VERSION],
                condition=Q(regulatory_entity__isnull=True),
                name="report_version_unique_no_entity",
            ),
            models.CheckConstraint(
                condition=Q(period_start__lte=F("period_end")), name="report_period_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["report_type", "period_end"], name="report_type_period"),
        ]

    def __str__(self) -> str:
        period = (
            f"{self.period_start}"
            if self.period_start == self.period_end
            else f"{self.period_start}..{self.period_end}"
        )
        return f"{self.get_report_type_display()} {period} v{self.version} ({self.format})"

    @property
    def generated_by_name(self) -> str:
        if self.generated_by_id:
            return self.generated_by.get_username()
        return f"schedule: {self.schedule}" if self.schedule else "the platform"

    @property
    def needs_rerun(self) -> bool:
        return self.stale_since is not None

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]


class TransactionAction(models.TextChoices):
    NEW = "NEWT", "New"
    CANCEL = "CANC", "Cancel (Cxl)"


class FeedbackStatus(models.TextChoices):
    NONE = "", "No feedback yet"
    ACCEPTED = "ACPT", "Accepted"
    REJECTED = "RJCT", "Rejected"


class ReportedTransaction(models.Model):
    """One transaction line of a MiFIR report: a `New` or a `Cxl` of a transaction reference.

    The reference is the fill's stable key (from its exec_id, never a primary key) and a
    version: a changed transaction is cancelled under its old reference and reported anew under
    the next one, so a reference names one content for good. What the regulator holds is read
    from the lines of filed reports (submitted or accepted) less those its feedback rejected;
    the next build of the period sends only the difference (`apps.reporting.lifecycle`)."""

    report = models.ForeignKey(
        RegulatoryReport, on_delete=models.PROTECT, related_name="transactions"
    )
    reference = models.CharField("transaction reference", max_length=52, db_index=True)
    action = models.CharField(max_length=4, choices=TransactionAction.choices)
    fill = models.ForeignKey(
        "trading.Fill", null=True, on_delete=models.SET_NULL, related_name="reported_as"
    )
    version = models.PositiveIntegerField()
    trade_date = models.DateField(help_text="The UTC day it was executed: its report period.")
    content_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the reported fields (a New)."
    )
    feedback_status = models.CharField(
        max_length=4, choices=FeedbackStatus.choices, default=FeedbackStatus.NONE, blank=True
    )
    feedback_code = models.CharField(max_length=32, blank=True)
    feedback_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["report", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "reference", "action"], name="reported_tx_once_per_report"
            )
        ]
        indexes = [models.Index(fields=["trade_date", "report"], name="reported_tx_by_day")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.reference}"


class ReportFeedback(models.Model):
    """A regulator's feedback file on a filed report, as imported (docs/reporting.md)."""

    report = models.ForeignKey(RegulatoryReport, on_delete=models.PROTECT, related_name="feedback")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField("SHA-256", max_length=64)
    content = models.TextField()
    accepted = models.PositiveIntegerField()
    rejected = models.PositiveIntegerField()
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return (
            f"Feedback on report #{self.report_id}: "
            f"{self.accepted} accepted, {self.rejected} rejected"
        )


class StorStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved and exported"


class BreachType(models.TextChoices):
    """Section 3 of the template: the type of breach suspected."""

    INSIDER_DEALING = "insider_dealing", "Insider dealing"
    MARKET_MANIPULATION = "market_manipulation", "Market manipulation"
    ATTEMPTED_INSIDER_DEALING = "attempted_insider_dealing", "Attempted insider dealing"
    ATTEMPTED_MARKET_MANIPULATION = (
        "attempted_market_manipulation",
        "Attempted market manipulation",
    )


class Stor(models.Model):
    """A suspicious transaction and order report (MAR art. 16) drafted from an alert, with the
    fields of the template in Commission Delegated Regulation (EU) 2016/957, Annex.

    A Compliance Officer drafts it (the orders, fills and executions of the alert's evidence
    are attached as they stood), a second one approves it or sends it back; approval exports it
    as a PDF and an XML file, two reports of type `stor` whose filing status moves together.
    Never shown below Compliance Officer (MAR art. 16: no tipping off)."""

    reference = models.CharField(max_length=32, unique=True)
    alert = models.ForeignKey("surveillance.Alert", on_delete=models.PROTECT, related_name="stors")
    regulatory_entity = models.ForeignKey(
        "rules.RegulatoryEntity",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stors",
        help_text="The national competent authority it is filed with.",
    )
    status = models.CharField(
        max_length=10, choices=StorStatus.choices, default=StorStatus.DRAFT, db_index=True
    )
    # Section 1: the reporting entity and the person submitting.
    # Blank until the drafter fills it in (when FIRM_NAME is not set); required for review.
    entity_name = models.CharField(max_length=200, blank=True)
    entity_lei = models.CharField("entity LEI", max_length=20, blank=True)
    entity_country = models.CharField(max_length=2, blank=True)
    person_name = models.CharField("person submitting", max_length=200, blank=True)
    person_position = models.CharField(max_length=200, blank=True)
    person_contact = models.CharField(
        max_length=200, blank=True, help_text="E-mail address and telephone number."
    )
    # Section 2: the transactions and orders (attached from the alert's evidence).
    instrument_description = models.CharField(max_length=300, blank=True)
    transactions = models.JSONField(
        default=list, blank=True, help_text="The orders, fills and executions as attached."
    )
    # Section 3: the nature of the suspicion.
    breach_type = models.CharField(max_length=32, choices=BreachType.choices)
    suspicion_description = models.TextField(blank=True)
    indicators = models.JSONField(default=list, blank=True)
    # Section 4: the persons on whose behalf the orders were placed and who executed them.
    persons = models.JSONField(default=list, blank=True)
    persons_notes = models.TextField(blank=True)
    # Section 5: additional information and the documents held.
    additional_information = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    # Drafting and the second officer's review.
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    review_requested_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    pdf_report = models.OneToOneField(
        RegulatoryReport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stor_as_pdf",
    )
    file_report = models.OneToOneField(
        RegulatoryReport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stor_as_file",
        help_text="The structured file (XML, schema apps/reporting/data/stor.xsd).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "STOR"
        verbose_name_plural = "STORs"

    def __str__(self) -> str:
        return f"{self.reference} (alert #{self.alert_id}, {self.get_status_display()})"

    @property
    def filing_status(self) -> str:
        """The filing status of its exported files; empty before approval."""
        return self.file_report.status if self.file_report_id else ""
