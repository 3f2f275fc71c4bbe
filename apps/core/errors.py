"""The project's exceptions. Services raise these; one handler turns them into the error body.

Every error a client can cause maps to one of these, so that an API answer is always
`{"error": {"code", "message", "details"}}` with the right status, never a 500.
"""

from typing import Any


class PlatformError(Exception):
    status_code = 400
    code = "error"
    default_message = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)

    def as_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(PlatformError):
    status_code = 400
    code = "validation_error"
    default_message = "Invalid input."


class NotAuthenticated(PlatformError):
    status_code = 401
    code = "not_authenticated"
    default_message = "Authentication credentials were not provided or are invalid."


class PermissionDenied(PlatformError):
    status_code = 403
    code = "permission_denied"
    default_message = "Your role does not allow this action."


class NotFound(PlatformError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(PlatformError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class TooManyAttempts(PlatformError):
    status_code = 429
    code = "too_many_attempts"
    default_message = "Too many failed attempts; try again later."


def field_errors(**fields: str | list[str]) -> dict[str, list[str]]:
    """Details in the shape serializers use: {"field": ["message", ...]}."""
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}
