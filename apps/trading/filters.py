"""One FilterSet per list, shared by the API and the admin."""

import django_filters
from django.db.models import Q

from apps.core.filters import UtcIsoDateTimeFilter
from apps.core.time import utcnow
from apps.trading import selectors
from apps.trading.models import (
    Account,
    AssetClass,
    ClientCategory,
    FxRate,
    Instrument,
    Locate,
    Order,
    OrderStatus,
    Position,
)


class AccountFilter(django_filters.FilterSet):
    code = django_filters.CharFilter()
    beneficial_owner = django_filters.CharFilter(
        field_name="beneficial_owner__name", lookup_expr="icontains"
    )
    client_category = django_filters.ChoiceFilter(choices=ClientCategory.choices)
    is_market_maker = django_filters.BooleanFilter()
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Account
        fields = ["code", "beneficial_owner", "client_category", "is_market_maker", "is_active"]


class InstrumentFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter()
    isin = django_filters.CharFilter()
    mic = django_filters.CharFilter()
    sector = django_filters.CharFilter(lookup_expr="iexact")
    asset_class = django_filters.ChoiceFilter(choices=AssetClass.choices)
    currency = django_filters.CharFilter()
    is_active = django_filters.BooleanFilter()
    mifir_reportable = django_filters.BooleanFilter()

    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "isin",
            "mic",
            "sector",
            "asset_class",
            "currency",
            "is_active",
            "mifir_reportable",
        ]


class PositionFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__code")
    instrument = django_filters.CharFilter(field_name="instrument__symbol")
    nonzero = django_filters.BooleanFilter(method="filter_nonzero", label="Open positions only")

    class Meta:
        model = Position
        fields = ["account", "instrument"]

    def filter_nonzero(self, queryset, name, value):
        return queryset.exclude(quantity=0) if value else queryset.filter(quantity=0)


class OrderFilter(django_filters.FilterSet):
    # Case-insensitive: a desk types "acc-001" as often as "ACC-001".
    account = django_filters.CharFilter(field_name="account__code", lookup_expr="iexact")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["account", "instrument", "status", "date"]


class LocateFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__code")
    instrument = django_filters.CharFilter(field_name="instrument__symbol")
    lender = django_filters.CharFilter(lookup_expr="icontains")
    active = django_filters.BooleanFilter(method="filter_active", label="Not expired")

    class Meta:
        model = Locate
        fields = ["account", "instrument", "lender"]

    def filter_active(self, queryset, name, value):
        in_force = Q(expires_at__gt=utcnow())
        return queryset.filter(in_force) if value else queryset.exclude(in_force)


class FxRateFilter(django_filters.FilterSet):
    base = django_filters.CharFilter()
    quote = django_filters.CharFilter()
    currency = django_filters.CharFilter(method="filter_currency", label="Base or quote")
    source = django_filters.CharFilter()
    as_of_after = UtcIsoDateTimeFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = UtcIsoDateTimeFilter(field_name="as_of", lookup_expr="lt")
    latest = django_filters.BooleanFilter(method="filter_latest", label="Latest of each pair")

    class Meta:
        model = FxRate
        fields = ["base", "quote", "source"]

    def filter_currency(self, queryset, name, value):
        return queryset.filter(base=value) | queryset.filter(quote=value)

    def filter_latest(self, queryset, name, value):
        return selectors.fx_rate_latest_only(queryset) if value else queryset
