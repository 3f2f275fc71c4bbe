"""The trail in the back office: read-only, filterable, with verification as an action."""

import json

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from apps.audit.events import EventType
from apps.audit.models import AuditEvent, Checkpoint
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record
from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin
from apps.rbac.roles import Role


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "seq",
        "occurred_at",
        "event_type",
        "actor",
        "object_type",
        "object_id",
        "regulatory",
        "short_hash",
    ]
    list_filter = [
        "event_type",
        "actor_type",
        "regulatory",
        "retention_class",
        "object_type",
        "occurred_at",
    ]
    search_fields = ["=seq", "actor", "object_id", "hash"]
    date_hierarchy = "occurred_at"
    fields = [
        "seq",
        "occurred_at",
        "event_type",
        "actor_type",
        "actor",
        "object_type",
        "object_id",
        "regulatory",
        "retention_class",
        "pretty_record",
        "hash",
    ]
    actions = ["verify_chain"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="hash")
    def short_hash(self, obj) -> str:
        return obj.hash[:12] + "…"

    @admin.display(description="record (what the hash covers)")
    def pretty_record(self, obj) -> str:
        text = json.dumps(json.loads(obj.record), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text)

    @admin.action(description="Verify the whole audit chain", permissions=["verify"])
    def verify_chain(self, request, queryset) -> None:
        result = audit_verify()
        with transaction.atomic():
            audit_record(
                event_type=EventType.DATA_ACCESS,
                actor=request.user,
                object_type="audit.auditevent",
                payload={"action": "verify", "result": result.as_dict()},
            )
        level = messages.SUCCESS if result.ok else messages.ERROR
        self.message_user(request, result.summary(), level)

    def has_verify_permission(self, request) -> bool:
        return has_role(request.user, Role.COMPLIANCE_OFFICER)


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["tree_size", "created_at", "root_hash", "key_id"]
    date_hierarchy = "created_at"
