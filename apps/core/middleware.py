"""Request ids and the acting context (address, user agent) for logs and the audit trail."""

import re
import uuid

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
