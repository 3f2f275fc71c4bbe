from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "apps.changes"
    label = "changes"
    verbose_name = "Configuration changes"

    def ready(self) -> None:
        from apps.changes import roles
        from apps.rbac import hooks

        # Role changes are a kind of this app's own (rbac sits below it and cannot register
        # one); the user admin proposes through the hook rather than setting the role.
        roles.register_role_kind()
        hooks.user_role_propose.provide(roles.user_role_propose)
