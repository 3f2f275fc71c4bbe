"""The FilterSets of the market's tape, for the API lists."""

import django_filters

from apps.core.filters import UtcIsoDateTimeFilter
from apps.marketdata.models import MarketQuote, MarketTrade, TradeCondition


class MarketTradeFilter(django_filters.FilterSet):
    instrument = django_filters.CharFilter(field_name="instrument__symbol")
    venue = django_filters.CharFilter()
    condition = django_filters.ChoiceFilter(choices=TradeCondition.choices)
    since = UtcIsoDateTimeFilter(field_name="executed_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="executed_at", lookup_expr="lt")

    class Meta:
        model = MarketTrade
        fields = ["instrument", "venue", "condition"]


class MarketQuoteFilter(django_filters.FilterSet):
    instrument = django_filters.CharFilter(field_name="instrument__symbol")
    venue = django_filters.CharFilter()
    since = UtcIsoDateTimeFilter(field_name="quoted_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="quoted_at", lookup_expr="lt")

    class Meta:
        model = MarketQuote
        fields = ["instrument", "venue"]
