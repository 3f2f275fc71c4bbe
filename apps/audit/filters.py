import django_filters

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.core.filters import UtcIsoDateTimeFilter


class AuditEventFilter(django_filters.FilterSet):
    event_type = django_filters.MultipleChoiceFilter(choices=[(t, t) for t in EventType])
    actor = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    regulatory = django_filters.BooleanFilter()
    seq_from = django_filters.NumberFilter(field_name="seq", lookup_expr="gte")
    seq_to = django_filters.NumberFilter(field_name="seq", lookup_expr="lte")
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["event_type", "actor", "object_type", "object_id", "regulatory"]
