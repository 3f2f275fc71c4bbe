from celery import shared_task

from apps.audit.sequencer import audit_sequence
from apps.audit.services import audit_purge, checkpoint_create
from apps.core.context import acting_as_system


@shared_task(
    name="audit.sequence", time_limit=60, soft_time_limit=50, ignore_result=True, expires=5
)
def sequence() -> int:
    """The backstop of the sequencer: places any committed event still unsequenced (its
    writer's own drain after commit normally has)."""
    return audit_sequence()


@shared_task(name="audit.checkpoint", time_limit=600, soft_time_limit=540, ignore_result=True)
def checkpoint() -> int | None:
    with acting_as_system("task:audit.checkpoint"):
        created = checkpoint_create()
    return created.tree_size if created else None


@shared_task(name="audit.purge", time_limit=3600, soft_time_limit=3500)
def purge(user_id: int) -> dict:
    """Run the retention purge for an Admin (the service checks the role)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    with acting_as_system("task:audit.purge"):
        result = audit_purge(actor=user)
    return {"purged_from": result.purged_from, "purged_to": result.purged_to, "count": result.count}
