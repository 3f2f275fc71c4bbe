"""Upward hooks of the notifications app (apps.core.hooks)."""

from apps.core.hooks import hook


@hook(filled_by="apps.trading")
def account_webhook_secret(account_id: str) -> str:
    """The webhook signing secret of the account with this primary key ("" when it has none).

    Read when a webhook to the account's client is sent ("account:12"), never stored on the
    delivery. Trading owns the accounts and fills it; empty, the webhook is not sent unsigned
    (`SecretUnavailable`).
    """
