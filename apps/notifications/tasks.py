from celery import shared_task

from apps.core.context import acting_as_system
from apps.notifications.services import delivery_attempt


@shared_task(name="notifications.deliver", time_limit=120, soft_time_limit=100, ignore_result=True)
def deliver(delivery_id: int) -> str | None:
    """One attempt at a delivery; on a failure worth retrying, the next one after a backoff."""
    with acting_as_system("task:notifications.deliver"):
        delivery, retry_in = delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        deliver.apply_async(args=[delivery_id], countdown=retry_in)
    return delivery.status if delivery is not None else None
