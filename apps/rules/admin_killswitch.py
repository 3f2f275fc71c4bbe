"""The kill switch in the back office: read-only for every role, deactivation for a Risk
Manager (through the service, four-eyes included). Activation is on the kill switch page."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from apps.core.errors import PlatformError
from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin
from apps.rbac.roles import Role
from apps.rules.killswitch import OPERATOR_ROLE, kill_switch_deactivate
from apps.rules.models import KillSwitch


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "scope",
        "target",
        "state",
        "is_active",
        "reason",
        "activator",
        "activated_at",
        "deactivated_by",
        "deactivated_at",
        "canceled_orders",
    ]
    list_filter = ["is_active", "scope", "state", "activated_at"]
    search_fields = [
        "target",
        "reason",
        "activated_by__username",
        "activated_by_system",
        "deactivated_by__username",
    ]
    date_hierarchy = "activated_at"
    list_select_related = ["activated_by", "deactivated_by"]
    ordering = ["-is_active", "-activated_at", "-id"]
    exclude = ["snapshot"]
    actions = ["deactivate"]

    # Until apps.rbac.policy has an entry for rules.killswitch, every role may look.
    def has_module_permission(self, request) -> bool:
        return has_role(request.user, Role.VIEWER)

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.VIEWER)

    def has_deactivate_permission(self, request) -> bool:
        return has_role(request.user, OPERATOR_ROLE)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "snapshot"] + [
            "snapshot_display"
        ]

    @admin.display(description="snapshot at activation")
    def snapshot_display(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.snapshot, indent=2, sort_keys=True))

    @admin.action(description="Deactivate selected kill switches", permissions=["deactivate"])
    def deactivate(self, request, queryset) -> None:
        done = 0
        for switch in queryset:
            try:
                kill_switch_deactivate(switch=switch, actor=request.user)
                done += 1
            except PlatformError as exc:
                self.message_user(
                    request, f"Kill switch #{switch.pk}: {exc.message}", messages.WARNING
                )
        self.message_user(request, f"{done} kill switch(es) deactivated.")
