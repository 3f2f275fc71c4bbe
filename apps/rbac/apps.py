from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "apps.rbac"
    label = "rbac"
    verbose_name = "Access control"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.rbac import mfa, schema  # noqa: F401 - the MFA settings check, the auth scheme

        post_migrate.connect(_sync_after_migrate, dispatch_uid="rbac.role_groups_sync")


def _sync_after_migrate(sender, using="default", **kwargs) -> None:
    # Permission rows are made by post_migrate for each app in turn: sync after the last one
    # (post_migrate is sent only for apps with a models module).
    from django.apps import apps

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    from apps.rbac.services import role_groups_sync

    role_groups_sync(using=using)
