"""The one place that answers "may this user do this?". API, admin and pages all ask here."""

from apps.rbac.policy import required_role
from apps.rbac.roles import GROUP_ROLES, GROUP_SERVICE_ROLES, AnyRole, Role, ServiceRole

_CACHE_ATTR = "_rbac_role"
_SERVICE_ATTR = "_rbac_service_role"


def _active(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _load(user) -> None:
    """Read the user's groups once: their ladder role and their service identity."""
    if user.is_superuser:
        role, service = Role.ADMIN, None
    else:
        names = list(user.groups.values_list("name", flat=True))
        roles = [GROUP_ROLES[n] for n in names if n in GROUP_ROLES]
        role = max(roles) if roles else None
        services = [GROUP_SERVICE_ROLES[n] for n in names if n in GROUP_SERVICE_ROLES]
        # One or the other: a person's role wins over a service identity held by mistake.
        service = services[0] if services and role is None else None
    setattr(user, _CACHE_ATTR, role)
    setattr(user, _SERVICE_ATTR, service)


def user_role(user) -> Role | None:
    """The user's role on the ladder: the highest of their role groups. Superusers are Admins.
    A service identity (Feed) has none."""
    if not _active(user):
        return None
    if getattr(user, _CACHE_ATTR, False) is False:
        _load(user)
    return getattr(user, _CACHE_ATTR)


def user_service_role(user) -> ServiceRole | None:
    """The user's service identity (Feed), outside the ladder; None for a person."""
    if not _active(user):
        return None
    if getattr(user, _SERVICE_ATTR, False) is False:
        _load(user)
    return getattr(user, _SERVICE_ATTR)


def remember_role(user, group_name: str | None) -> None:
    """Cache the role of a user read with the name of their highest role group (the token
    authentication reads it in the same statement as the token), so that `user_role` asks
    nothing more during the request. A service group (Feed) ranks below every role."""
    if user.is_superuser:
        return  # `user_role` answers Admin without a query
    name = group_name or ""
    setattr(user, _CACHE_ATTR, GROUP_ROLES.get(name))
    setattr(user, _SERVICE_ATTR, GROUP_SERVICE_ROLES.get(name))


def forget_role(user) -> None:
    """Drop the cached role after a role change."""
    for attr in (_CACHE_ATTR, _SERVICE_ATTR):
        if hasattr(user, attr):
            delattr(user, attr)


def has_role(user, role: AnyRole | tuple[AnyRole, ...]) -> bool:
    """At least `role` on the ladder; or exactly that service identity (a Feed check passes a
    Feed user only, whatever the ladder says); or, given a tuple, any one of them."""
    if isinstance(role, tuple):
        return any(has_role(user, one) for one in role)
    if isinstance(role, ServiceRole):
        return user_service_role(user) is role
    current = user_role(user)
    return current is not None and current >= role


def can(user, action: str, model_label: str) -> bool:
    """May `user` do `action` (view/add/change/delete) on model `app_label.model`?"""
    needed = required_role(model_label, action)
    return needed is not None and has_role(user, needed)


def require_role(user, role: Role, what: str) -> None:
    """Raise PermissionDenied (a 403) unless `user` holds `role` or above."""
    from apps.core.errors import PermissionDenied

    if not has_role(user, role):
        article = "an" if role.group_name[0] in "AEIOU" else "a"
        raise PermissionDenied(
            f"Only {article} {role.group_name} or above may {what}.",
            details={"required_role": role.group_name},
        )
