"""The one FilterSet of alerts: the API list and the alerts page share it."""

import django_filters

from apps.core.filters import UtcIsoDateTimeFilter
from apps.surveillance.models import Alert, AlertStatus, Detector, Disposition, Severity


class AlertFilter(django_filters.FilterSet):
    detector = django_filters.MultipleChoiceFilter(choices=Detector.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices)
    disposition = django_filters.ChoiceFilter(choices=Disposition.choices)
    # Case-insensitive: a desk types "acc-001" as often as "ACC-001".
    account = django_filters.CharFilter(field_name="account__code", lookup_expr="iexact")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    assignee = django_filters.CharFilter(field_name="assignee__username", lookup_expr="iexact")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["detector", "severity", "status", "disposition", "account", "instrument"]
