"""The audit trail page: the events, newest first, with the desk lists' search, date range,
sorting and CSV/Excel export. Compliance Officers and above (they read the trail); each page
shown is a DATA_ACCESS event, as each read of the trail through the API or the admin is."""

import json

from django.views.generic import TemplateView

from apps.audit import selectors
from apps.audit.events import EventType
from apps.audit.filters import AuditEventFilter
from apps.audit.services import audit_read_record, read_params, seq_range
from apps.core.lists import Column, DeskList, DeskListMixin
from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role

PAGE_SIZE = 100


def _payload(event) -> dict:
    try:
        payload = json.loads(event.record).get("payload")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _payload_text(event) -> str:
    return json.dumps(_payload(event), sort_keys=True, ensure_ascii=False)


AUDIT_LIST = DeskList(
    name="audit-trail",
    object_type="audit.auditevent",
    columns=[
        Column("seq", "Seq", lambda e: e.seq, "seq"),
        Column("occurred", "Time (UTC)", lambda e: e.occurred_at, "occurred_at"),
        Column("event_type", "Event", lambda e: e.event_type, "event_type"),
        Column("actor", "Actor", lambda e: e.actor, "actor"),
        Column(
            "object", "Object", lambda e: f"{e.object_type} {e.object_id}".strip(), "object_type"
        ),
        Column("payload", "Payload", _payload_text),
        Column("actor_type", "Actor type", lambda e: e.actor_type, shown=False),
        Column("regulatory", "Regulatory", lambda e: e.regulatory, shown=False),
        Column("hash", "Hash", lambda e: e.hash, shown=False),
    ],
    search_fields=["event_type", "actor", "object_type", "object_id", "record"],
    date_field="occurred_at",
    default_sort="-seq",
    tiebreak="-seq",
)


class AuditTrailView(RoleRequiredMixin, DeskListMixin, TemplateView):
    required_role = Role.COMPLIANCE_OFFICER
    template_name = "audit/events.html"
    desk_list = AUDIT_LIST
    page_size = PAGE_SIZE

    def desk_rows(self):
        rows = selectors.event_list(user=self.request.user)
        self.filters = AuditEventFilter(self.desk_params(), queryset=rows)
        if not self.filters.is_valid():
            self.desk_problems.extend(
                f"{name}: {' '.join(errs)}" for name, errs in self.filters.errors.items()
            )
            return rows.none()
        return self.filters.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        events = list(context["page"].object_list)
        for event in events:
            event.payload_text = _payload_text(event)
        context.update(
            events=events,
            filters=self.filters,
            event_types=[t.value for t in EventType],
            selected_types=self.request.GET.getlist("event_type"),
        )
        audit_read_record(
            actor=self.request.user,
            action="page_list",
            via="page",
            params=read_params(self.request.GET),
            **seq_range([event.seq for event in events]),
        )
        return context
