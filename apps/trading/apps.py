from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "apps.trading"
    label = "trading"
    verbose_name = "Trading"

    def ready(self) -> None:
        from apps.notifications import secrets

        def account_webhook_secret(pk: str) -> str:
            from apps.trading.models import Account

            row = Account.objects.filter(pk=pk).values_list("webhook_secret", flat=True).first()
            return row or ""

        # Webhooks to a client are signed with its account's secret, read when they are sent.
        secrets.register("account", account_webhook_secret)
