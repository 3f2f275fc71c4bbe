"""The one FilterSet of configuration changes: the API list and the admin share its fields."""

import django_filters

from apps.changes.models import ChangeStatus, ConfigChange
from apps.core.filters import UtcIsoDateTimeFilter


class ConfigChangeFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ChangeStatus.choices)
    kind = django_filters.CharFilter()
    target = django_filters.CharFilter(field_name="target_key")
    proposed_by = django_filters.CharFilter(field_name="proposed_by__username")
    proposed_after = UtcIsoDateTimeFilter(field_name="proposed_at", lookup_expr="gte")
    proposed_before = UtcIsoDateTimeFilter(field_name="proposed_at", lookup_expr="lt")

    class Meta:
        model = ConfigChange
        fields = ["status", "kind", "target", "proposed_by"]
