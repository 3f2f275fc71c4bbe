from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.contrib.auth.signals import (
            user_logged_in,
            user_logged_out,
            user_login_failed,
        )

        from apps.audit import receivers
        from apps.audit.services import audit_record
        from apps.core import hooks

        hooks.audit_record.provide(audit_record)  # rbac records through it
        # Django's authentication reports logins only through these signals.
        user_logged_in.connect(receivers.on_login, dispatch_uid="audit.login")
        user_logged_out.connect(receivers.on_logout, dispatch_uid="audit.logout")
        user_login_failed.connect(receivers.on_login_failed, dispatch_uid="audit.login_failed")
