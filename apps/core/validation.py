"""Model validation with the project's error: one helper for every service."""

from django.core.exceptions import ValidationError as DjangoValidationError

from apps.core.api import django_validation_details
from apps.core.errors import ValidationFailed


def clean_or_raise(instance, *, exclude: list[str] | None = None, constraints: bool = True) -> None:
    """full_clean, raising ValidationFailed (a 400 with field details).

    `constraints=False` on hot paths: the database enforces the constraints anyway, and Django
    would check each one with a query of its own.
    """
    try:
        instance.full_clean(
            exclude=exclude, validate_unique=constraints, validate_constraints=constraints
        )
    except DjangoValidationError as exc:
        raise ValidationFailed(details=django_validation_details(exc)) from None
