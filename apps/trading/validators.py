"""Identifier checks: ISIN (ISO 6166), LEI (ISO 17442), MIC (ISO 10383 format), currency
(ISO 4217)."""

import re

from django.core.exceptions import ValidationError

from apps.core.currencies import is_currency

_ISIN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")
_MIC = re.compile(r"^[A-Z0-9]{4}$")


def _letters_to_digits(value: str) -> str:
    return "".join(str(int(ch, 36)) for ch in value)


def isin_is_valid(value: str) -> bool:
    """ISO 6166: letters become 10..35, then the Luhn check over the digit string."""
    if not isinstance(value, str) or not _ISIN.match(value):
        return False
    digits = _letters_to_digits(value)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def validate_isin(value: str) -> None:
    if not isin_is_valid(value):
        raise ValidationError(
            "%(value)s is not a valid ISIN (2 letters, 9 characters, a check digit).",
            code="invalid_isin",
            params={"value": value},
        )


def lei_is_valid(value: str) -> bool:
    if not isinstance(value, str) or not _LEI.match(value):
        return False
    return int(_letters_to_digits(value)) % 97 == 1


def validate_lei(value: str) -> None:
    if value and not lei_is_valid(value):
        raise ValidationError(
            "%(value)s is not a valid LEI (ISO 17442).", code="invalid_lei", params={"value": value}
        )


def validate_mic(value: str) -> None:
    if not isinstance(value, str) or not _MIC.match(value):
        raise ValidationError(
            "%(value)s is not a MIC (four capital letters or digits).",
            code="invalid_mic",
            params={"value": value},
        )


def validate_currency(value: str) -> None:
    if not is_currency(value):
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code (such as USD or EUR).",
            code="invalid_currency",
            params={"value": value},
        )
