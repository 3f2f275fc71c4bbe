"""DRF permission: each view names the lowest role it needs, per HTTP method if it differs.

A view may name a service identity instead (`ServiceRole.FEED`: that identity only, off the
ladder), or a tuple of either (any one of them).
"""

from rest_framework.permissions import BasePermission

from apps.rbac.access import has_role
from apps.rbac.roles import AnyRole, Role


class HasRequiredRole(BasePermission):
    """Authenticated, and at least the view's `required_role` (or `required_roles[method]`).

    A view that names no role needs Admin: forgetting to declare one fails closed.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return has_role(request.user, self.role_for(request, view))

    @staticmethod
    def role_for(request, view) -> AnyRole | tuple[AnyRole, ...]:
        per_method = getattr(view, "required_roles", None)
        if per_method and request.method in per_method:
            return per_method[request.method]
        return getattr(view, "required_role", Role.ADMIN)
