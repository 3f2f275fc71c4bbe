"""The back office: any user with a role may enter; each model admin then asks the policy."""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from apps.rbac.access import user_role


class RoleAuthenticationForm(AuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user_role(user) is None:
            raise ValidationError("This account has no role in the platform.", code="no_role")


class ComplianceAdminSite(admin.AdminSite):
    site_header = "Trade Compliance back office"
    site_title = "Trade Compliance"
    index_title = "Back office"
    login_form = RoleAuthenticationForm

    def has_permission(self, request) -> bool:
        return user_role(request.user) is not None
