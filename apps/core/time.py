"""Time helpers: everything is timezone-aware UTC."""

from datetime import UTC, datetime

from django.utils import timezone


def utcnow() -> datetime:
    return timezone.now()


def rfc3339(value: datetime) -> str:
    """RFC 3339 UTC with microseconds and a Z, e.g. 2026-11-21T09:30:00.000000Z."""
    if timezone.is_naive(value):
        raise ValueError("naive datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
