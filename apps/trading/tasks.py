from celery import shared_task

from apps.core.context import acting_as_system
from apps.trading.services import order_expire_due


@shared_task(name="trading.expire_orders", time_limit=300, soft_time_limit=270, ignore_result=True)
def expire_orders() -> int:
    """Expire the working orders past their expire_at (beat, every
    ORDER_EXPIRY_INTERVAL_SECONDS): day orders at their session's close, unfilled ioc/fok after
    the grace, gtd at their time."""
    with acting_as_system("task:trading.expire_orders"):
        return order_expire_due()
