from django.conf import settings
from django.db import models


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"
    CANCELED = "canceled", "Canceled"  # the held order was canceled before anyone decided


class ApprovalRequest(models.Model):
    """A held order waiting for a human decision."""

    order = models.OneToOneField("trading.Order", on_delete=models.PROTECT, related_name="approval")
    status = models.CharField(
        max_length=8,
        choices=ApprovalStatus.choices,
        default=ApprovalStatus.PENDING,
        db_index=True,
    )
    rules = models.JSONField(default=list, help_text="The checks that held the order.")
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    recheck = models.JSONField(
        default=list,
        blank=True,
        help_text="The hard limits that failed when the order was last re-checked for approval.",
    )

    class Meta:
        ordering = ["expires_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="approval_status_expiry")]

    def __str__(self) -> str:
        return f"approval of order {self.order_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING
