"""Serializer fields for amounts: decimal strings in and out, never floats."""

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
