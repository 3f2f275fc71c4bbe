"""Page views: log in first, then the role check (403 for a role below)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from apps.rbac.access import has_role
from apps.rbac.roles import Role


class RoleRequiredMixin(LoginRequiredMixin):
    required_role: Role = Role.ADMIN

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not has_role(request.user, self.required_role):
            raise PermissionDenied("Your role does not allow this page.")
        return super().dispatch(request, *args, **kwargs)
