"""Upward hooks of the rbac app (apps.core.hooks)."""

from typing import Any

from apps.core.hooks import hook
from apps.rbac.roles import Role


@hook(filled_by="apps.changes")
def user_role_propose(*, user: Any, role: Role | None, actor: Any) -> object:
    """Propose `role` (or no role) for `user`: it takes effect when another Admin approves it
    (maker-checker). Returns the pending change, or None when the role is already that one.

    The user admin calls it instead of setting the role; `user_role_set` stays the service
    that applies an approved change (and seeds the demo). The changes app fills it.
    """
