from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "apps.trading"
    label = "trading"
    verbose_name = "Trading"

    def ready(self) -> None:
        from apps.notifications import hooks
        from apps.trading.config_changes import register_trading_kinds
        from apps.trading.selectors import account_webhook_secret

        # Webhooks to a client are signed with its account's secret, read when they are sent.
        hooks.account_webhook_secret.provide(account_webhook_secret)
        # Risk limits, economics, manual prices and rates change under maker-checker.
        register_trading_kinds()
