"""Logins, logouts and failed logins become SYSTEM_ACCESS events."""

from django.db import transaction

from apps.audit.events import EventType
from apps.audit.services import audit_record


def _record(action: str, *, user=None, username: str = "", extra: dict | None = None) -> None:
    with transaction.atomic():
        audit_record(
            event_type=EventType.SYSTEM_ACCESS,
            actor=user if user is not None else f"anonymous:{username}"[:150],
            object_type="auth.user",
            object_id=user.pk if user is not None else "",
            payload={"action": action, "username": username, **(extra or {})},
        )


def on_login(sender, request, user, **kwargs) -> None:
    _record("login", user=user, username=user.get_username())


def on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        _record("logout", user=user, username=user.get_username())


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Never the password: credentials arrive with it masked, but take only the username.
    username = str(credentials.get("username", ""))[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    _record("login_failed", username=username, extra={"locked_out": locked})
