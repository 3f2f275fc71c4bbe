"""The monitor's record: each run (its heartbeat) and each portfolio rule violation it found."""

from django.db import models
from django.db.models import Q

from apps.core.types import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

FIRM = "firm"  # the subject of a firm-wide measure


class RunStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"


class MonitorRun(models.Model):
    """One pass of the portfolio rules. Runs happen only while a venue is open, so these rows
    are also the monitor's heartbeats, from which its uptime in market hours is measured."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    duration_seconds = models.DecimalField(max_digits=12, decimal_places=6)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.OK)
    rules_evaluated = models.PositiveIntegerField(default=0)
    books = models.PositiveIntegerField(default=0, help_text="Accounts, and the firm, measured.")
    violations_opened = models.PositiveIntegerField(default=0)
    violations_resolved = models.PositiveIntegerField(default=0)
    active_violations = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.started_at:%Y-%m-%d %H:%M:%S} ({self.status})"


class ViolationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"


class Violation(models.Model):
    """A portfolio rule out of bounds for one book, from the run that first saw it until the run
    that saw it back within bounds. At most one active violation per rule and book."""

    rule = models.ForeignKey(
        "rules.ComplianceRule", on_delete=models.PROTECT, related_name="portfolio_violations"
    )
    rule_code = models.CharField(max_length=32)
    rule_type = models.CharField(max_length=32, db_index=True)
    account = models.ForeignKey(
        "trading.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="portfolio_violations",
        help_text="Empty: the firm as a whole.",
    )
    subject = models.CharField(max_length=40, help_text='"firm", or the account code.')
    severity = models.CharField(max_length=8, db_index=True)
    status = models.CharField(
        max_length=8,
        choices=ViolationStatus.choices,
        default=ViolationStatus.ACTIVE,
        db_index=True,
    )
    observed = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )
    threshold = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )
    worst = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        help_text="The worst measure seen while active.",
    )
    unit = models.CharField(max_length=16, blank=True)
    message = models.TextField()
    regulation = models.CharField(max_length=128, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    times_seen = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=Q(status="active"),
                name="violation_one_active_per_rule_and_book",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code} on {self.subject} ({self.status})"
