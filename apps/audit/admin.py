"""The trail in the back office: read-only, filterable, with verification as an action."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from apps.audit.events import EventType
from apps.audit.models import AuditEvent, Checkpoint
from apps.audit.selectors import WitnessUnavailable, audit_verify_for_staff
from apps.audit.sequencer import audit_sequence
from apps.audit.services import audit_read_record, audit_record, read_params
from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin
from apps.rbac.roles import Role


class RecordsReadsAdminMixin:
    """Each list or detail page of the trail shown writes one DATA_ACCESS event: the filters and
    the keys shown (`read_key`: seq, or tree_size for checkpoints). The page's rows are fetched
    once here and the template reuses them, so recording costs no second read."""

    read_key = "seq"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if request.method == "GET" and cl is not None:
            keys = [getattr(row, self.read_key) for row in cl.result_list]
            audit_read_record(
                actor=request.user,
                action=f"admin_list:{self.model._meta.label_lower}",
                via="admin",
                params=read_params(request.GET),
                count=len(keys),
                **{
                    f"first_{self.read_key}": min(keys, default=None),
                    f"last_{self.read_key}": max(keys, default=None),
                },
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if request.method == "GET" and original is not None:
            audit_read_record(
                actor=request.user,
                action=f"admin_detail:{self.model._meta.label_lower}",
                via="admin",
                **{self.read_key: getattr(original, self.read_key)},
            )
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(RecordsReadsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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

    def get_queryset(self, request):
        # The chain: events still waiting for the sequencer have no place in it yet.
        return super().get_queryset(request).filter(seq__gt=0)

    def changelist_view(self, request, extra_context=None):
        audit_sequence()  # the events committed so far, in the chain before they are listed
        return super().changelist_view(request, extra_context)

    @admin.display(description="hash")
    def short_hash(self, obj) -> str:
        return obj.hash[:12] + "…"

    @admin.display(description="record (what the hash covers)")
    def pretty_record(self, obj) -> str:
        text = json.dumps(json.loads(obj.record), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text)

    @admin.action(description="Verify the whole audit chain", permissions=["verify"])
    def verify_chain(self, request, queryset) -> None:
        try:
            result = audit_verify_for_staff()
        except WitnessUnavailable as exc:
            self.message_user(request, f"{exc.message} ({exc.details['witness']})", messages.ERROR)
            return
        audit_read_record(
            actor=request.user,
            action="verify",
            via="admin",
            ok=result.ok,
            first_bad_seq=result.first_bad_seq,
            count=result.events_checked,
            first_seq=result.first_seq,
            last_seq=result.last_seq,
        )
        level = messages.SUCCESS if result.ok else messages.ERROR
        self.message_user(request, result.summary(), level)

    def has_verify_permission(self, request) -> bool:
        return has_role(request.user, Role.COMPLIANCE_OFFICER)


@admin.register(Checkpoint)
class CheckpointAdmin(RecordsReadsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    read_key = "tree_size"
    list_display = ["tree_size", "created_at", "root_hash", "key_id"]
    date_hierarchy = "created_at"


# --- third-party models changed in the back office: schedules and login lockouts -------------


def _jsonable(value):
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _snapshot(obj, names) -> dict:
    out = {}
    for name in names:
        try:
            field = obj._meta.get_field(name)
        except Exception:  # noqa: BLE001, S112 - a form-only field: not stored, not recorded
            continue
        if field.concrete and not field.many_to_many:
            out[name] = _jsonable(field.value_from_object(obj))
    return out


class AuditedAdminMixin:
    """For models without services of their own (django-celery-beat, django-axes): every save
    and delete in the admin writes CONFIG_CHANGED with before and after, in the same
    transaction as the change."""

    audit_event_type = EventType.CONFIG_CHANGED

    def _record(self, request, obj, change: str, before=None, after=None) -> None:
        audit_record(
            event_type=self.audit_event_type,
            actor=request.user,
            object_type=obj._meta.label_lower,
            object_id=obj.pk,
            payload={"change": change, "object": str(obj)[:200], "before": before, "after": after},
        )

    def save_model(self, request, obj, form, change) -> None:
        names = list(form.changed_data)
        before = None
        if change:
            before = _snapshot(type(obj).objects.get(pk=obj.pk), names)
        super().save_model(request, obj, form, change)
        self._record(
            request, obj, "updated" if change else "created", before, _snapshot(obj, names)
        )

    def get_actions(self, request):
        # Bulk actions that update rows directly would bypass the record: keep only delete
        # (audited through delete_queryset) and actions that change nothing stored.
        actions = super().get_actions(request)
        return {k: v for k, v in actions.items() if k in ("delete_selected", "run_tasks")}

    def delete_model(self, request, obj) -> None:
        self._record(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self._record(request, obj, "deleted")
        super().delete_queryset(request, queryset)


def _reregister(model, admin_class, event_type=EventType.CONFIG_CHANGED) -> None:
    from apps.rbac.admin import RoleAdminMixin

    if admin.site.is_registered(model):
        admin.site.unregister(model)
    audited = type(
        f"Audited{admin_class.__name__}",
        (AuditedAdminMixin, RoleAdminMixin, admin_class),
        {"audit_event_type": event_type},
    )
    admin.site.register(model, audited)


def _wrap_third_party_admins() -> None:
    from axes import admin as axes_admin
    from axes.models import AccessAttempt
    from django_celery_beat import admin as beat_admin
    from django_celery_beat import models as beat

    _reregister(beat.PeriodicTask, beat_admin.PeriodicTaskAdmin)
    _reregister(beat.CrontabSchedule, beat_admin.CrontabScheduleAdmin)
    _reregister(beat.IntervalSchedule, beat_admin.IntervalScheduleAdmin)
    _reregister(beat.SolarSchedule, beat_admin.SolarScheduleAdmin)
    _reregister(beat.ClockedSchedule, beat_admin.ClockedScheduleAdmin)
    _reregister(AccessAttempt, axes_admin.AccessAttemptAdmin, EventType.SYSTEM_ACCESS)


_wrap_third_party_admins()
