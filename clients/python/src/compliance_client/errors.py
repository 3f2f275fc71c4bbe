"""Typed exceptions. The platform answers every error with one body,
`{"error": {"code": "...", "message": "...", "details": {...}}}`: each exception carries it."""

from __future__ import annotations

from typing import Any


class ComplianceError(Exception):
    """Base of every error this client raises."""

    code: str = "client_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status else ""
        return f"{where}{self.code}: {self.message}"


class ApiError(ComplianceError):
    """The platform answered with its error body."""


class BadRequest(ApiError):
    """400: input that cannot be an order (unknown account, malformed fields...). Nothing stored."""


class AuthenticationFailed(ApiError):
    """401: no token, a wrong one, an expired or revoked one."""


class PermissionDenied(ApiError):
    """403: the token's role may not do this (or four-eyes: not the same person twice)."""


class NotFound(ApiError):
    """404: no such order, kill switch, endpoint."""


class Conflict(ApiError):
    """409: the request conflicts with the current state (order not cancelable, ...)."""


class IdempotencyConflict(Conflict):
    """409 `client_order_id_reused`: the id was sent before with another body."""


class RateLimited(ApiError):
    """429: too many attempts."""


class ServiceUnavailable(ApiError):
    """503 (e.g. `database_unavailable`): nothing was stored; safe to retry the same order."""


class ServerError(ApiError):
    """Any other 5xx."""


class GateUnavailable(ComplianceError):
    """The platform could not be reached, or did not answer in time (no HTTP answer at all)."""

    code = "gate_unreachable"


class GateTimeout(GateUnavailable):
    code = "gate_timeout"


class ProtocolError(ComplianceError):
    """The answer was not what the platform sends (not JSON, wrong shape)."""

    code = "bad_response"


class WebhookSignatureError(ComplianceError):
    """A webhook whose signature or timestamp does not verify: refuse it."""

    code = "bad_signature"


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
    503: ServiceUnavailable,
}
_BY_CODE: dict[str, type[ApiError]] = {"client_order_id_reused": IdempotencyConflict}


def error_from_response(status: int, body: Any) -> ApiError:
    """The exception for an error answer, from its error body (or a stand-in without one)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "error")
        message = str(error.get("message") or "")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    else:
        code, message, details = f"http_{status}", f"HTTP {status} without an error body.", {}
    klass = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if klass is None:
        klass = ServerError if status >= 500 else ApiError
    return klass(message, code=code, status=status, details=details)


class WaitTimeout(ComplianceError, TimeoutError):
    """Waiting for an approval outcome took longer than asked."""

    code = "wait_timeout"
