"""The kill switch (SEC 15c3-5; MiFID II RTS 6 art. 12): a halt, or reducing-only trading, for
the whole firm, one account or one instrument, with the book as it stood at activation."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class KillSwitchScope(models.TextChoices):
    FIRM = "firm", "Firm"
    ACCOUNT = "account", "Account"
    INSTRUMENT = "instrument", "Instrument"


class KillSwitchState(models.TextChoices):
    HALTED = "halted", "Halted (no new orders)"
    REDUCING = "reducing", "Reducing only"


class KillSwitch(models.Model):
    scope = models.CharField(max_length=16, choices=KillSwitchScope.choices)
    target = models.CharField(max_length=64, blank=True, help_text="Account code or symbol.")
    state = models.CharField(max_length=16, choices=KillSwitchState.choices)
    reason = models.CharField(max_length=500)
    is_active = models.BooleanField(default=True, db_index=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when an automated control (surveillance) activated it.",
    )
    activated_by_system = models.CharField(
        max_length=64, blank=True, help_text="The automated control that activated it, if any."
    )
    activated_at = models.DateTimeField()
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deactivated_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(
        max_length=500, blank=True, help_text="Why trading was let through again."
    )
    snapshot = models.JSONField(default=dict, help_text="Open positions and working orders.")
    canceled_orders = models.PositiveIntegerField(default=0)

    class Meta:
        # The table (and its constraint's name) kept the name it had when the kill switch was
        # part of the rules app: the model moved, the data did not.
        db_table = "rules_killswitch"
        ordering = ["-activated_at"]
        verbose_name_plural = "kill switches"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="firm") | ~Q(target=""), name="kill_switch_scope_has_target"
            ),
        ]

    def __str__(self) -> str:
        where = self.target or "firm"
        return f"{self.state} {where} ({'active' if self.is_active else 'off'})"

    @property
    def activator(self) -> str:
        """Who activated it: a username, or the automated control's name."""
        if self.activated_by_id is None:
            return self.activated_by_system
        return self.activated_by.get_username()
