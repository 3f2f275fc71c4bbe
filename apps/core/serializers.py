"""The base of every request body's serializer: a field it does not know is refused.

DRF ignores unknown keys: `"time_in_forse": "ioc"` went through as a `day` order. A client
that misspells a field must hear about it, so a body with a key the serializer does not
declare is a 400 with the code `unknown_field`, before any field is read, and nothing is stored.
"""

from collections.abc import Mapping

from rest_framework import serializers

from apps.core.errors import ValidationFailed


class UnknownField(ValidationFailed):
    code = "unknown_field"
    default_message = "The request names a field this endpoint does not take."


def refuse_unknown(data, known) -> None:
    """Raise UnknownField when the mapping `data` has a key outside `known`."""
    if not isinstance(data, Mapping):
        return
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise UnknownField(
            f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
            details={key: ["Unknown field."] for key in unknown},
        )


class StrictInputSerializer(serializers.Serializer):
    """A request body. Nested serializers built on it are held to the same rule."""

    def to_internal_value(self, data):
        known = {name for name, field in self.fields.items() if not field.read_only}
        refuse_unknown(data, known)
        return super().to_internal_value(data)


def refuse_body(request) -> None:
    """For an endpoint that takes no body: a JSON object with any key is a 400 too."""
    refuse_unknown(request.data, ())
