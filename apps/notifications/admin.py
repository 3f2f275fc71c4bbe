"""Deliveries in the back office: read-only, for following up a message that did not arrive."""

from django.contrib import admin

from apps.notifications.models import Delivery, RoutingRule
from apps.notifications.services import routing_rule_save
from apps.rbac.admin import ReadOnlyAdminMixin, RoleAdminMixin


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "channel", "event", "target", "status", "attempts"]
    list_filter = ["channel", "status", "event"]
    search_fields = ["target", "event", "object_id"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Which channels staff alerts go to. Saved through routing_rule_save (audited); a rule is
    switched off rather than deleted, so the trail shows what was in force."""

    list_display = ["name", "severity", "kind", "channel", "target", "is_active", "updated_at"]
    list_filter = ["channel", "severity", "is_active"]
    search_fields = ["name", "kind", "target"]
    fields = ["name", "severity", "kind", "channel", "target", "is_active"]

    def save_model(self, request, obj, form, change) -> None:
        saved = routing_rule_save(actor=request.user, rule=obj)
        obj.pk = saved.pk
