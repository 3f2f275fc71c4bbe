from django.contrib.admin.apps import AdminConfig


class ComplianceAdminConfig(AdminConfig):
    default_site = "apps.rbac.admin_site.ComplianceAdminSite"
