from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """An API token. Only its SHA-256 digest is stored; the key is shown once, at issue."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="Which client holds it, e.g. 'oms-prod'.")
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to tell it.")
    digest = models.CharField(max_length=64, unique=True)
    # A keyed hash of the user's password hash at issue: a password change (or a reset) makes
    # the token stop working without a query more on each request (apps.rbac.services).
    credential_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
