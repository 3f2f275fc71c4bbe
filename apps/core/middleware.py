"""Request ids and the acting context (address, user agent) for logs and the audit trail."""

import re
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse

from apps.core.api import error_body
from apps.core.context import ActorContext, acting
from apps.core.logging import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
USER_AGENT_MAX = 256


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: a forwarded-for header is whatever the client says it is, unless a
    # trusted proxy sets it (configure the proxy to overwrite REMOTE_ADDR in that case).
    return request.META.get("REMOTE_ADDR") or None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        ctx = ActorContext(
            ip=client_ip(request),
            user_agent=(request.headers.get("User-Agent") or "")[:USER_AGENT_MAX] or None,
            request_id=request.request_id,
        )
        token = request_id_var.set(request.request_id)
        try:
            with acting(ctx):
                response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def payload_too_large(request) -> HttpResponse:
    """413 with the error body for the API (and any JSON client), a short page for a browser."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    details = {"limit_bytes": limit} if limit is not None else {}
    message = "The request body is larger than this server accepts."
    wants_page = not request.path.startswith("/api/") and "text/html" in request.headers.get(
        "Accept", ""
    )
    if wants_page:
        return HttpResponse(
            f"<!doctype html><title>Request too large</title><p>{message}</p>",
            status=413,
            content_type="text/html; charset=utf-8",
        )
    return JsonResponse(error_body("payload_too_large", message, details), status=413)


class BodyLimitMiddleware:
    """Refuse a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 before anything reads it.

    Django raises RequestDataTooBig only when something reads the body, and then the view (or
    DRF) turns it into a 400 or a 500. Checked here on the declared length, for every path;
    multipart bodies are left to Django, whose limit leaves uploaded files out of the count
    (a RequestDataTooBig from them is answered in process_exception)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not request.content_type.startswith("multipart/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return payload_too_large(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return payload_too_large(request)
        return None


# Scripts and styles only from this origin (static/vendor, the admin's, the API docs'); no
# inline script, no eval, no plugin, no framing, forms post only here.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """The Content-Security-Policy on every answer, and `Cache-Control: no-store` on every
    page and API answer (they carry client data: orders, positions, the trail), so that
    neither a browser nor a proxy keeps a copy. Static files are served before this runs
    (WhiteNoise) and keep their own caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        response["Cache-Control"] = "no-store"
        return response
