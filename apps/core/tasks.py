import logging

from celery import shared_task

from apps.core.time import utcnow

logger = logging.getLogger(__name__)


@shared_task(name="core.ping", time_limit=30, soft_time_limit=20)
def ping(value: str = "pong") -> str:
    """A no-op task: proves that a broker delivers and a worker executes."""
    return value


@shared_task(name="core.heartbeat", time_limit=30, soft_time_limit=20, ignore_result=True)
def heartbeat() -> str:
    """Beat -> broker -> worker, once a minute: a log line that shows the loop is alive."""
    now = utcnow().isoformat()
    logger.info("heartbeat", extra={"at": now})
    return now
