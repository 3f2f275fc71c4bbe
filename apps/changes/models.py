"""Configuration changes under maker-checker: proposed by one person, applied only when a
second person approves (apps.changes.services)."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ConfigChange(models.Model):
    """One proposed change of configuration the gate or the reports depend on: an account's
    risk limits, an instrument's economics, a manual reference price or FX rate, a user's role.

    `kind` names its registered kind (apps.changes.registry), which says what it writes and who
    may propose and approve it. The target is named by its natural key (`target_key`: an
    account code, a symbol, a currency pair, a username) and, when it is a row, by its content
    type and primary key. `before` holds the target's values of the proposed fields when the
    change was proposed (the checker sees the diff; approval refuses a change whose target has
    moved since); `proposed` the values it takes on approval, both plain JSON."""

    kind = models.CharField(max_length=40, db_index=True)
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_key = models.CharField(max_length=200)
    proposed = models.JSONField(help_text="The values the change sets, as plain JSON.")
    before = models.JSONField(
        null=True, blank=True, help_text="The same fields as they were when it was proposed."
    )
    reason = models.TextField(blank=True, help_text="Why, in the proposer's words.")
    status = models.CharField(
        max_length=8, choices=ChangeStatus.choices, default=ChangeStatus.PENDING, db_index=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="config_changes_proposed"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="config_changes_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, help_text="The decider's comment.")
    applied_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The primary key of the row the approval wrote (a new rate or price).",
    )

    class Meta:
        ordering = ["-proposed_at", "-id"]
        verbose_name = "configuration change"
        indexes = [
            models.Index(fields=["kind", "target_key", "status"], name="config_change_by_target")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.target_key} ({self.status})"
