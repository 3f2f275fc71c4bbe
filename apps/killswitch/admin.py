"""The kill switch in the back office: read-only, who may look from the policy table
(`apps.rbac.policy`); deactivation for those the service allows (four-eyes included).
Activation is on the kill switch page."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from apps.core.errors import PlatformError
from apps.killswitch.models import KillSwitch
from apps.killswitch.selectors import kill_switch_restrict
from apps.killswitch.services import kill_switch_deactivate, kill_switch_may_operate
from apps.rbac.admin import ReadOnlyAdminMixin
from apps.trading.selectors import entitled_account_codes


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

    def has_deactivate_permission(self, request) -> bool:
        return kill_switch_may_operate(request.user)

    def get_queryset(self, request):
        # An account's switch only for those who may see the account, as on the page and API.
        return kill_switch_restrict(super().get_queryset(request), user=request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields if f.name != "snapshot"]
        # The snapshot holds positions and working orders of every account it covered: for
        # those who see every account (Risk Manager and above) only.
        if entitled_account_codes(request.user) is None:
            fields.append("snapshot_display")
        return fields

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
