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
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
