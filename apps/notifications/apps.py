from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.audit import hooks
        from apps.notifications.services import audit_witness_send

        hooks.checkpoint_witness_send.provide(audit_witness_send)
