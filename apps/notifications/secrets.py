"""Signing keys are looked up when a webhook is sent, never stored on the delivery or logged.

A delivery names its key by reference ("account:12"): a kind, and a key that the kind's hook
(`apps.notifications.hooks`) turns into the secret.
"""

from apps.core.hooks import Hook
from apps.notifications import hooks

_SOURCES: dict[str, Hook[[str], str]] = {"account": hooks.account_webhook_secret}


class SecretUnavailable(LookupError):
    """No key for the reference: the message is not sent unsigned."""


AUDIT_WITNESS_REF = "audit_witness:webhook"


def resolve(ref: str) -> str:
    if ref == AUDIT_WITNESS_REF:  # the platform's own setting, not a client's key
        from django.conf import settings

        if not settings.AUDIT_WITNESS_WEBHOOK_SECRET:
            raise SecretUnavailable("AUDIT_WITNESS_WEBHOOK_SECRET is not set")
        return settings.AUDIT_WITNESS_WEBHOOK_SECRET
    kind, _, key = ref.partition(":")
    source = _SOURCES.get(kind)
    if source is None or not source.filled or not key:
        raise SecretUnavailable(f"no signing key source for {kind!r}")
    secret = source(key)
    if not secret:
        raise SecretUnavailable(f"no signing key is set for {ref}")
    return secret
