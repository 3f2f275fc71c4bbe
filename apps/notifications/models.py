"""One delivery record per message: where it went, how it went, how often it was tried."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    CALLBACK = "callback", "Python callback"


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
