"""The one DRF exception handler: every error leaves the API in the same body."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.errors import PlatformError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    drf.ValidationError: ("validation_error", "Invalid input."),
    drf.ParseError: ("parse_error", "Malformed request body."),
    drf.AuthenticationFailed: ("authentication_failed", None),
    drf.NotAuthenticated: ("not_authenticated", None),
    drf.PermissionDenied: ("permission_denied", None),
    drf.NotFound: ("not_found", None),
    drf.MethodNotAllowed: ("method_not_allowed", None),
    drf.NotAcceptable: ("not_acceptable", None),
    drf.UnsupportedMediaType: ("unsupported_media_type", None),
    drf.Throttled: ("throttled", None),
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def django_validation_details(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PlatformError):
        set_rollback()
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(
            error_body("validation_error", "Invalid input.", django_validation_details(exc)),
            status=400,
        )
    if isinstance(exc, RequestDataTooBig):
        # Normally refused earlier on its declared length (BodyLimitMiddleware).
        set_rollback()
        return Response(
            error_body("payload_too_large", "The request body is larger than this server accepts."),
            status=413,
        )
    if isinstance(exc, RecursionError):
        set_rollback()
        return Response(error_body("parse_error", "The JSON is nested too deeply."), status=400)
    if isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError):
        logger.exception("database error in API view")
        set_rollback()
        return Response(
            error_body("database_unavailable", "The database could not complete the request."),
            status=503,
        )
    if isinstance(exc, IntegrityError):
        # A uniqueness race the services could not see coming: the client may retry.
        logger.warning("integrity error", extra={"error": str(exc)[:200]})
        set_rollback()
        return Response(
            error_body("conflict", "The request conflicts with a concurrent change."), status=409
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.APIException):
        set_rollback()
        code, message = _DRF_CODES.get(type(exc), (None, None))
        if code is None:
            code = next(
                (c for klass, (c, _m) in _DRF_CODES.items() if isinstance(exc, klass)),
                str(exc.default_code),
            )
        if isinstance(exc, drf.ValidationError):
            detail = exc.detail
            if not isinstance(detail, dict):
                detail = {"non_field_errors": detail}
            body = error_body(code, message or "Invalid input.", detail)
        else:
            body = error_body(code, message or str(exc.detail))
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(body, status=exc.status_code, headers=headers)
    logger.exception("unhandled error in API view", extra={"view": str(context.get("view"))})
    set_rollback()
    return Response(error_body("server_error", "Internal error."), status=500)


def json_error_view(status: int, code: str, message: str):
    def view(request, exception=None):
        return JsonResponse(error_body(code, message), status=status)

    return view
