"""Reads of configuration changes: each role sees the kinds it may propose or approve."""

from django.db.models import QuerySet

from apps.changes.models import ConfigChange
from apps.changes.registry import kinds_visible
from apps.rbac.access import user_role


def change_list(*, user) -> QuerySet[ConfigChange]:
    return ConfigChange.objects.filter(kind__in=kinds_visible(user_role(user))).select_related(
        "proposed_by", "decided_by"
    )


def change_get(*, user, change_id: int) -> ConfigChange | None:
    return change_list(user=user).filter(pk=change_id).first()


def change_diff(change: ConfigChange) -> list[tuple[str, object, object]]:
    """(field, before, proposed) for each proposed value; `before` None when there was none."""
    before = change.before or {}
    return [(name, before.get(name), value) for name, value in (change.proposed or {}).items()]
