from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from apps.core import metrics
        from apps.notifications.models import Channel, DeliveryStatus, Severity
        from apps.trading.models import OrderStatus

        metrics.series_initialise(
            decisions=(OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.PENDING_APPROVAL),
            channels=tuple(Channel.values),
            severities=tuple(Severity.values),
            delivery_statuses=(DeliveryStatus.SENT, DeliveryStatus.RETRYING, DeliveryStatus.FAILED),
        )
