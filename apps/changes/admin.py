"""Configuration changes in the back office: the pending ones first, each with its diff, and
approve / reject actions that ask for a comment on a confirmation page. Every decision goes
through `config_change_decide` (the kind's approving role, four-eyes, audited)."""

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join

from apps.changes import selectors
from apps.changes.models import ChangeStatus, ConfigChange
from apps.changes.services import config_change_decide
from apps.core.errors import PlatformError
from apps.rbac.access import has_role
from apps.rbac.admin import RoleAdminMixin
from apps.rbac.roles import Role

DECIDE_TEMPLATE = "admin/changes/configchange/decide.html"


def _show(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if value == "":
        return '""'
    return str(value)


def diff_lines(change: ConfigChange) -> list[str]:
    """ "field: before → proposed" for each proposed value."""
    return [
        f"{name}: {_show(old)} → {_show(new)}" for name, old, new in selectors.change_diff(change)
    ]


class StatusFilter(admin.SimpleListFilter):
    """Pending first: the list opens on what waits for a decision."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*ChangeStatus.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or ChangeStatus.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or ChangeStatus.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(ConfigChange)
class ConfigChangeAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "target_key",
        "status",
        "diff",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
    ]
    list_display_links = ["id", "target_key"]
    list_filter = [StatusFilter, "kind"]
    search_fields = ["target_key", "reason", "comment", "proposed_by__username"]
    actions = ["approve_changes", "reject_changes"]
    fields = [
        "kind",
        "target_key",
        "status",
        "diff",
        "reason",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "comment",
        "applied_id",
        "before",
        "proposed",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.change_list(user=request.user)

    def has_approve_permission(self, request) -> bool:
        # The lowest approving role; each kind's own role is the service's to check.
        return has_role(request.user, Role.RISK_MANAGER)

    @admin.display(description="change")
    def diff(self, obj) -> str:
        return format_html_join("", "<div>{}</div>", ((line,) for line in diff_lines(obj)))

    def _decide(self, request, queryset, *, approve: bool):
        action = "approve_changes" if approve else "reject_changes"
        verb = "Approve" if approve else "Reject"
        pending = list(queryset.filter(status=ChangeStatus.PENDING))
        if not pending:
            self.message_user(request, "None of the selected changes is pending.", messages.WARNING)
            return None
        comment = request.POST.get("comment", "").strip()
        error = ""
        if request.POST.get("confirm") == "yes":
            if comment:
                self._apply(request, pending, approve=approve, comment=comment)
                return None
            error = "A comment is required."
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb} configuration changes",
            "opts": self.model._meta,
            "verb": verb,
            "action": action,
            "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changes": [{"change": c, "diff": diff_lines(c)} for c in pending],
            "comment": comment,
            "error": error,
            "cancel_url": reverse("admin:changes_configchange_changelist"),
        }
        return TemplateResponse(request, DECIDE_TEMPLATE, context)

    def _apply(self, request, pending, *, approve: bool, comment: str) -> None:
        done, refused = [], []
        for change in pending:
            try:
                config_change_decide(
                    change=change, actor=request.user, approve=approve, comment=comment
                )
                done.append(f"#{change.pk}")
            except PlatformError as exc:
                refused.append(f"#{change.pk}: {exc.message}")
        if done:
            verb = "Approved" if approve else "Rejected"
            self.message_user(request, f"{verb} {', '.join(done)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Approve selected changes", permissions=["approve"])
    def approve_changes(self, request, queryset):
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected changes", permissions=["approve"])
    def reject_changes(self, request, queryset):
        return self._decide(request, queryset, approve=False)
