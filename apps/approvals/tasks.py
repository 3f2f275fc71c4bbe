from celery import shared_task

from apps.approvals.services import approval_expire_due
from apps.core.context import acting_as_system


@shared_task(name="approvals.expire_due", time_limit=300, soft_time_limit=270, ignore_result=True)
def expire_due() -> int:
    """Expire the held orders past their time to live (beat, every 15 seconds)."""
    with acting_as_system("task:approvals.expire_due"):
        return approval_expire_due()
