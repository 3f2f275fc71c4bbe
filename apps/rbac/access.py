"""The one place that answers "may this user do this?". API, admin and pages all ask here."""

from apps.rbac.policy import required_role
from apps.rbac.roles import GROUP_ROLES, Role

_CACHE_ATTR = "_rbac_role"


def user_role(user) -> Role | None:
    """The user's role: the highest of their role groups. Superusers are Admins."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, _CACHE_ATTR, False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = Role.ADMIN
    else:
        names = user.groups.values_list("name", flat=True)
        roles = [GROUP_ROLES[n] for n in names if n in GROUP_ROLES]
        role = max(roles) if roles else None
    setattr(user, _CACHE_ATTR, role)
    return role


def remember_role(user, group_name: str | None) -> None:
    """Cache the role of a user read with the name of their highest role group (the token
    authentication reads it in the same statement as the token), so that `user_role` asks
    nothing more during the request."""
    if user.is_superuser:
        return  # `user_role` answers Admin without a query
    setattr(user, _CACHE_ATTR, GROUP_ROLES.get(group_name) if group_name else None)


def forget_role(user) -> None:
    """Drop the cached role after a role change."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def has_role(user, role: Role) -> bool:
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
