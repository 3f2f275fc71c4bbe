"""Surveillance: detector settings, the run's watermark, drop copies, and alerts worked as cases."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.trading.models import BeneficialOwner, Side, amount_field
from apps.trading.validators import validate_mic


class Detector(models.TextChoices):
    WASH_TRADE = "wash_trade", "Wash trading"
    SPOOFING = "spoofing", "Spoofing"
    LAYERING = "layering", "Layering"
    RAPID_FIRE = "rapid_fire", "Rapid-fire orders"
    CONCENTRATION = "concentration", "Concentration"
    MARKING_CLOSE = "marking_close", "Marking the close"
    GATE_RECONCILIATION = "gate_reconciliation", "Gate reconciliation"
    MATCHED_ORDERS = "matched_orders", "Improper matched orders"
    EXCESSIVE_MESSAGING = "excessive_messaging", "Excessive messaging"
    INSIDER_DEALING = "insider_dealing", "Trading ahead of a list addition"
    FRONT_RUNNING = "front_running", "Front running"
    RAMPING = "ramping", "Ramping / momentum ignition"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class LoopBackAction(models.TextChoices):
    NONE = "none", "Alert only"
    REDUCING = "reducing", "Set the account's kill switch to reducing only"
    HALTED = "halted", "Halt the account (kill switch)"


class RelatedParty(models.Model):
    """Two beneficial owners on record as related (a parent and its subsidiary, spouses, one
    manager's funds): surveillance counts them as one owner for wash trades. Recorded and removed
    by Compliance Officers through their services (audited), with the documents that show it."""

    owner = models.ForeignKey(BeneficialOwner, on_delete=models.CASCADE, related_name="+")
    related_owner = models.ForeignKey(BeneficialOwner, on_delete=models.CASCADE, related_name="+")
    relationship = models.CharField(
        max_length=200, help_text="How they are related: parent company, spouse, same manager..."
    )
    documented_in = models.CharField(
        max_length=500, help_text="Where the relationship is documented (file, KYC record)."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "related party"
        verbose_name_plural = "related parties"
        ordering = ["owner_id", "related_owner_id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "related_owner"], name="related_party_unique"),
            models.CheckConstraint(
                condition=~Q(owner=models.F("related_owner")), name="related_party_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner} ~ {self.related_owner} ({self.relationship})"


class DetectorConfig(models.Model):
    """One row per detector: on or off, its parameters, and what a finding does to trading."""

    detector = models.CharField(max_length=32, choices=Detector.choices, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text="Overrides of the detector's defaults (see docs/surveillance.md).",
    )
    critical_action = models.CharField(
        max_length=16, choices=LoopBackAction.choices, default=LoopBackAction.NONE
    )
    warning_action = models.CharField(
        max_length=16, choices=LoopBackAction.choices, default=LoopBackAction.NONE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["detector"]

    def __str__(self) -> str:
        return self.get_detector_display()

    def action_for(self, severity: str) -> str:
        if severity == Severity.CRITICAL:
            return self.critical_action
        if severity == Severity.WARNING:
            return self.warning_action
        return LoopBackAction.NONE


class SurveillanceCursor(models.Model):
    """How far the incremental run has read the event stream (the audit trail's sequence).

    The run locks this row for its whole transaction: two runs at once take turns, and the
    watermark moves in the same commit as the alerts found, so no event is read twice or missed.
    """

    name = models.CharField(max_length=32, unique=True, default="incremental")
    last_seq = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    events_processed = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at #{self.last_seq}"


class ExecutionReport(models.Model):
    """An execution as the venue or broker reported it (a drop copy), kept as received.

    Reconciled against what the gate decided: a fill the gate never accepted, a fill on a
    rejected order, or more filled than ordered is a critical finding.
    """

    exec_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(
        "trading.Account", on_delete=models.PROTECT, related_name="execution_reports"
    )
    instrument = models.ForeignKey(
        "trading.Instrument", on_delete=models.PROTECT, related_name="execution_reports"
    )
    client_order_id = models.CharField(max_length=64, db_index=True)
    order = models.ForeignKey(
        "trading.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="execution_reports",
        help_text="The order it matched at receipt; empty when the gate never saw one.",
    )
    order_status = models.CharField(
        max_length=20, blank=True, help_text="The matched order's status at receipt."
    )
    side = models.CharField(max_length=20, choices=Side.choices)
    quantity = amount_field()
    price = amount_field()
    venue = models.CharField("venue MIC", max_length=4, validators=[validate_mic])
    executed_at = models.DateTimeField()
    reported_total = amount_field(help_text="Quantity reported for the order so far, this one in.")
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="execution_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="execution_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.exec_id}: {self.side} {self.quantity} @ {self.price}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    ESCALATED = "escalated", "Escalated"
    CLOSED = "closed", "Closed"


class Disposition(models.TextChoices):
    TRUE_POSITIVE = "true_positive", "True positive"
    FALSE_POSITIVE = "false_positive", "False positive"
    DUPLICATE = "duplicate", "Duplicate"


class Alert(models.Model):
    """A finding and the case worked on it. One pattern is one alert: later occurrences of the
    same pattern (same detector and key) while it is open add to it."""

    detector = models.CharField(max_length=32, choices=Detector.choices, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, db_index=True)
    status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    account = models.ForeignKey(
        "trading.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    instrument = models.ForeignKey(
        "trading.Instrument",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    dedup_key = models.CharField(max_length=200, db_index=True)
    title = models.CharField(max_length=300)
    score = models.DecimalField(max_digits=6, decimal_places=4)
    evidence = models.JSONField(
        default=dict, help_text="Order, fill and execution ids, the window, the figures."
    )
    occurrences = models.PositiveIntegerField(default=1)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    first_seq = models.BigIntegerField(help_text="The event that first completed the pattern.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(
        null=True, blank=True, help_text="When a STOR of it was submitted to the regulator."
    )
    report_reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="The STOR's reference and the regulator's reference of its submission.",
    )
    # Four-eyes closure of a critical alert: the first officer's proposal, waiting for a second,
    # different officer to confirm it. The alert stays open until then.
    closure_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closure_proposed_at = models.DateTimeField(null=True, blank=True)
    closure_disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    closure_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dedup_key", "status"], name="alert_dedup_open")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="closed") & ~Q(disposition=""))
                | (~Q(status="closed") & Q(disposition="")),
                name="alert_closed_has_disposition",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.detector} {self.severity} ({self.status})"

    @property
    def closure_pending(self) -> bool:
        """A proposal to close waits for a second officer (critical alerts only)."""
        return self.closure_proposed_by_id is not None


class AlertNote(models.Model):
    """The case's timeline: comments and every change, with who and when."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=32, default="comment")
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"


class Occurrence(models.Model):
    """Each time a pattern was found: the event that completed it. A pattern found again (a
    replay over a range already analysed) is recognised by its key and event and not counted
    twice."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="occurrence_rows")
    dedup_key = models.CharField(max_length=200)
    seq = models.BigIntegerField(help_text="The audit event that completed the pattern.")
    at = models.DateTimeField()
    title = models.CharField(max_length=300)
    score = models.DecimalField(max_digits=6, decimal_places=4)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key", "seq"], name="occurrence_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} at #{self.seq}"
