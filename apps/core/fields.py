"""Serializer fields for amounts (decimal strings in and out, never floats) and times."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.errors import ValidationFailed
from apps.core.types import decimal_str, to_decimal


@extend_schema_field({"type": "string", "format": "decimal", "example": "189.5"})
class AmountField(serializers.Field):
    """An amount as a decimal string ("189.5"). Input accepts strings and integers only."""

    def __init__(self, *, positive: bool = False, **kwargs):
        self.positive = positive
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return to_decimal(data, field=self.field_name or "value", positive=self.positive)
        except ValidationFailed as exc:
            raise serializers.ValidationError(next(iter(exc.details.values()))) from None

    def to_representation(self, value):
        return decimal_str(value)


class TextOnlyField(serializers.CharField):
    """Text only: a number or a list is a 400, not silently turned into a string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Rfc3339Field(serializers.DateTimeField):
    """A time as RFC 3339 writes it, with its offset (`Z` or `+01:00`); out in UTC with a Z.
    A time without an offset is refused rather than read as UTC: a desk in New York sending its
    local time would otherwise be hours off."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but no such time: the field's own error below
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise serializers.ValidationError(
                    "Give the time with its UTC offset (RFC 3339), e.g. 2026-12-07T21:00:00Z."
                )
        return super().to_internal_value(value)
