"""Role changes as a kind of configuration change: an Admin proposes a user's role, another
Admin approves it, and nobody decides a change of their own role.

Registered here because rbac, which owns roles, sits below this app (docs/architecture.md).
"""

from typing import Any

from django.contrib.auth import get_user_model

from apps.changes.registry import ChangeKind, register
from apps.changes.services import config_change_propose
from apps.core.errors import ValidationFailed, field_errors
from apps.rbac.roles import Role, ServiceRole, any_role_from_slug
from apps.rbac.services import user_role_set

# The ladder's roles and the service identities (Feed) off it.
ROLE_SLUGS = [role.slug for role in Role] + [service.slug for service in ServiceRole]


def _resolve(key: str):
    return get_user_model().objects.filter(username=key).first()


def _role_slug(user) -> str | None:
    # The role as stored, not as cached on the object or limited by the active flag.
    fresh = get_user_model().objects.get(pk=user.pk)
    if fresh.is_superuser:
        return Role.ADMIN.slug
    groups = set(fresh.groups.values_list("name", flat=True))
    roles = [r for r in Role if r.group_name in groups]
    if roles:
        return max(roles).slug
    services = [s for s in ServiceRole if s.group_name in groups]
    return services[0].slug if services else None


def _check(user, values: dict[str, Any]) -> dict[str, Any]:
    role = values.get("role")
    if role is not None and (not isinstance(role, str) or role not in ROLE_SLUGS):
        raise ValidationFailed(
            details=field_errors(role=f"One of {', '.join(ROLE_SLUGS)}, or null for no role.")
        )
    return {"role": role}


def _before(user, names) -> dict[str, Any]:
    return {"role": _role_slug(user)}


def _apply(user, proposed: dict[str, Any], actor) -> Any:
    slug = proposed.get("role")
    user_role_set(user=user, role=any_role_from_slug(slug) if slug else None, actor=actor)
    return user


USER_ROLE = ChangeKind(
    name="user_role",
    label="a user's role",
    model="auth.user",
    target_model="auth.user",
    fields=("role",),
    required=("role",),
    propose_role=Role.ADMIN,
    approve_role=Role.ADMIN,
    resolve=_resolve,
    key=lambda user: user.get_username(),
    check=_check,
    before=_before,
    apply=_apply,
    concerns_user=lambda user: user,
)


def register_role_kind() -> None:
    register(USER_ROLE)


def user_role_propose(*, user: Any, role: Role | ServiceRole | None, actor: Any) -> object:
    """Fills apps.rbac.hooks.user_role_propose: the user admin's role field proposes."""
    if _role_slug(user) == (role.slug if role else None):
        return None
    return config_change_propose(
        kind=USER_ROLE.name,
        target=user,
        values={"role": role.slug if role else None},
        actor=actor,
    )
