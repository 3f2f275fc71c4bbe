"""Signing keys are looked up when a webhook is sent, never stored on the delivery or logged.

A delivery names its key by reference ("account:12"); the app that owns the key registers a
source for the kind ("account") when it loads. Notifications sit below trading, so trading
registers its accounts' webhook secrets here (TradingConfig.ready()).
"""

from collections.abc import Callable

_sources: dict[str, Callable[[str], str]] = {}


class SecretUnavailable(LookupError):
    """No key for the reference: the message is not sent unsigned."""


def register(kind: str, source: Callable[[str], str]) -> None:
    _sources[kind] = source


def resolve(ref: str) -> str:
    kind, _, key = ref.partition(":")
    source = _sources.get(kind)
    if source is None or not key:
        raise SecretUnavailable(f"no signing key source for {kind!r}")
    secret = source(key)
    if not secret:
        raise SecretUnavailable(f"no signing key is set for {ref}")
    return secret
