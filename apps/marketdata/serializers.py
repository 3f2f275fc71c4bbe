"""One print and one quote as the feed and the import send them (the API and the CSV importer
read each row with these, so both refuse the same things)."""

from rest_framework import serializers

from apps.core.errors import ValidationFailed
from apps.core.fields import AmountField, Rfc3339Field, TextOnlyField
from apps.core.serializers import StrictInputSerializer, UnknownField
from apps.marketdata.models import TradeCondition

MIC_PATTERN = r"^[A-Z0-9]{4}$"


class MarketTradeInputSerializer(StrictInputSerializer):
    instrument = TextOnlyField(max_length=32, help_text="Symbol or ISIN.")
    executed_at = Rfc3339Field(help_text="RFC 3339 with its offset; not in the future.")
    price = AmountField(positive=True)
    quantity = AmountField(positive=True)
    venue = serializers.RegexField(MIC_PATTERN, max_length=4, help_text="ISO 10383 MIC.")
    trade_id = TextOnlyField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The venue's id of the print: the same id on the same venue is stored once.",
    )
    condition = serializers.ChoiceField(
        choices=TradeCondition.choices, required=False, default=TradeCondition.REGULAR
    )


class MarketQuoteInputSerializer(StrictInputSerializer):
    instrument = TextOnlyField(max_length=32, help_text="Symbol or ISIN.")
    quoted_at = Rfc3339Field(help_text="RFC 3339 with its offset; not in the future.")
    bid = AmountField(positive=True)
    bid_size = AmountField(positive=True)
    ask = AmountField(positive=True, help_text="At or above the bid.")
    ask_size = AmountField(positive=True)
    venue = serializers.RegexField(MIC_PATTERN, max_length=4, help_text="ISO 10383 MIC.")


def rows_validated(items, serializer_class, label) -> tuple[list[dict], dict[str, list]]:
    """Each item read by `serializer_class`; the errors keyed `label(index).field`."""
    rows, errors = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[label(index)] = ["Must be an object."]
            continue
        serializer = serializer_class(data=item)
        try:
            valid = serializer.is_valid()
        except UnknownField as exc:
            for name, messages in exc.details.items():
                errors[f"{label(index)}.{name}"] = messages
            continue
        except ValidationFailed as exc:
            for name, messages in exc.details.items():
                errors[f"{label(index)}.{name}"] = messages
            continue
        if not valid:
            for name, messages in serializer.errors.items():
                errors[f"{label(index)}.{name}"] = [str(m) for m in messages]
            continue
        rows.append(dict(serializer.validated_data))
    return rows, errors
