"""The one FilterSet of approval requests: the API list and the history page share it."""

import django_filters

from apps.approvals.models import ApprovalRequest, ApprovalStatus


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ApprovalStatus.choices)
    # Case-insensitive: a desk types "acc-001" as often as "ACC-001".
    account = django_filters.CharFilter(field_name="order__account__code", lookup_expr="iexact")
    instrument = django_filters.CharFilter(
        field_name="order__instrument__symbol", lookup_expr="iexact"
    )
    date = django_filters.DateFilter(
        field_name="requested_at", lookup_expr="date", label="Requested on (UTC)"
    )
    requested_after = django_filters.IsoDateTimeFilter(field_name="requested_at", lookup_expr="gte")
    requested_before = django_filters.IsoDateTimeFilter(field_name="requested_at", lookup_expr="lt")

    class Meta:
        model = ApprovalRequest
        fields = ["status", "account", "instrument", "date"]
