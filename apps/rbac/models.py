from django.conf import settings
from django.core.validators import RegexValidator
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


class PersonIdentity(models.Model):
    """What MiFIR needs to identify a natural person (RTS 22 art. 6): personal data, shown to
    Compliance Officers and above only. The identifier itself is derived from these fields
    (apps.core.person_ids)."""

    class Kind(models.TextChoices):
        NONE = "", "none (CONCAT where the nationality allows it)"
        NATIONAL_ID = "NIDN", "national identifier of RTS 22 Annex II"
        PASSPORT = "CCPT", "passport number"

    first_names = models.CharField(max_length=140, blank=True)
    surnames = models.CharField(max_length=140, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    nationality = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 country code.")],
        help_text="ISO 3166-1 alpha-2; of several, the first EEA one in alphabetical order.",
    )
    national_id = models.CharField(
        "national identifier",
        max_length=33,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9 +-]*$", "Letters, digits, + and - only.")],
        help_text="The highest-priority identifier of RTS 22 Annex II the person has, "
        "without the country code.",
    )
    national_id_kind = models.CharField(
        "identifier kind", max_length=4, blank=True, choices=Kind.choices
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class StaffIdentity(PersonIdentity):
    """A member of staff who takes investment decisions or executes orders (RTS 22 fields 57
    and 59)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_identity"
    )
    branch_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 country code.")],
        help_text="The branch that supervises the person; empty: the firm's country.",
    )

    class Meta:
        verbose_name = "staff identity (MiFIR)"
        verbose_name_plural = "staff identities (MiFIR)"

    def __str__(self) -> str:
        return f"{self.user} (MiFIR identity)"


class ReferenceVersion(models.Model):
    """One row whose version moves, by database trigger, in the transaction of any change to
    the reference data each process keeps in memory (API tokens, users, roles, accounts,
    instruments, entitlements: apps.rbac.refcache). A process compares it with the version its
    cache was read at, in a statement it sends anyway, and reads again when it moved."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"reference data version {self.version}"
