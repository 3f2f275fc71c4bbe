"""Deliveries in the back office: read-only, for following up a message that did not arrive."""

from django.contrib import admin

from apps.notifications.models import Delivery
from apps.rbac.admin import ReadOnlyAdminMixin


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "channel", "event", "target", "status", "attempts"]
    list_filter = ["channel", "status", "event"]
    search_fields = ["target", "event", "object_id"]
