from celery import shared_task

from apps.core.context import acting_as_system
from apps.surveillance.runner import surveillance_catch_up


@shared_task(name="surveillance.run", time_limit=600, soft_time_limit=570, ignore_result=True)
def run() -> int:
    """One incremental pass of every detector over the new events (beat, every 10 seconds)."""
    with acting_as_system("task:surveillance.run"):
        return sum(r.events for r in surveillance_catch_up())
