"""Filters shared by the API lists and the desk pages."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An RFC 3339 time that exists in UTC too: "0001-01-01T00:00:00+01:00" is a valid string
    but no UTC time (the database compares in UTC), so it is a 400, never a server error."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(UTC)
            except OverflowError:
                raise forms.ValidationError(
                    "Outside the calendar once in UTC.", code="invalid"
                ) from None
        return parsed


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
