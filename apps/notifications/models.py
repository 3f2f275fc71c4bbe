"""One delivery record per message: where it went, how it went, how often it was tried; and the
routing rules that say which channels a staff alert goes to."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    CALLBACK = "callback", "Python callback"
    SLACK = "slack", "Slack (incoming webhook)"
    TELEGRAM = "telegram", "Telegram (Bot API)"
    PAGERDUTY = "pagerduty", "PagerDuty (Events API v2)"


# The channels a routing rule may send a staff alert to.
ROUTABLE_CHANNELS = (Channel.EMAIL, Channel.SLACK, Channel.TELEGRAM, Channel.PAGERDUTY)


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class Delivery(models.Model):
    channel = models.CharField(max_length=16, choices=Channel.choices)
    event = models.CharField(max_length=64, help_text='What happened, e.g. "approval.granted".')
    target = models.CharField(
        max_length=500, help_text="Email address, webhook URL or the callback's dotted path."
    )
    subject = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What is sent (no secrets).")
    secret_ref = models.CharField(
        max_length=64,
        blank=True,
        help_text='Where the signing key is read at send time ("account:12"); never the key.',
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due"),
            models.Index(fields=["object_type", "object_id"], name="delivery_object"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} to {self.target} ({self.status})"


class RoutingRule(models.Model):
    """Staff alerts of this severity and kind go to this channel. Every matching active rule
    sends; a rule with no severity or no kind matches them all."""

    name = models.CharField(max_length=200)
    severity = models.CharField(
        max_length=8, choices=Severity.choices, blank=True, help_text="Empty: every severity."
    )
    kind = models.CharField(
        max_length=64,
        blank=True,
        help_text='The alert kind, e.g. "limit_breach" or "surveillance.spoofing"; a trailing * '
        'matches every kind that starts so ("surveillance.*"). Empty: every kind.',
    )
    channel = models.CharField(
        max_length=16, choices=[(c.value, c.label) for c in ROUTABLE_CHANNELS]
    )
    target = models.CharField(
        max_length=254,
        blank=True,
        help_text="Email: an address (empty: every Compliance Officer). Telegram: a chat id "
        "(empty: TELEGRAM_CHAT_ID). Slack and PagerDuty: leave empty (the webhook URL and the "
        "routing key are settings, never stored here).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "severity", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.severity or 'any'} {self.kind or '*'} -> {self.channel}"

    def clean(self) -> None:
        target = self.target.strip()
        if self.channel == Channel.EMAIL and target:
            try:
                validate_email(target)
            except ValidationError:
                raise ValidationError({"target": "Not an email address."}) from None
        elif self.channel == Channel.TELEGRAM and target:
            if not (target.lstrip("-").isdigit() or target.startswith("@")):
                raise ValidationError(
                    {"target": "A Telegram chat id (digits, may start with -) or @channel."}
                )
        elif self.channel in (Channel.SLACK, Channel.PAGERDUTY) and target:
            raise ValidationError(
                {"target": "Leave empty: this channel's address is a setting, not stored here."}
            )
        if "*" in self.kind[:-1]:
            raise ValidationError({"kind": "A * may only end the kind."})

    def matches(self, *, kind: str, severity: str) -> bool:
        if self.severity and self.severity != severity:
            return False
        if not self.kind:
            return True
        if self.kind.endswith("*"):
            return kind.startswith(self.kind[:-1])
        return kind == self.kind
