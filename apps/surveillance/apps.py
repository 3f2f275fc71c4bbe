from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    name = "apps.surveillance"
    label = "surveillance"
    verbose_name = "Surveillance"

    def ready(self) -> None:
        from apps.approvals import hooks
        from apps.surveillance.selectors import account_open_alerts

        # The approval page lists the account's open alerts; approvals cannot import us.
        hooks.account_open_alerts.provide(account_open_alerts)
