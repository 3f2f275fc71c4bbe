"""What a locked-out login sees: the API error body, or the page."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from apps.core.api import error_body

MESSAGE = "Too many failed logins: this user is locked for a while."


def lockout_response(request, original_response=None, credentials=None):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        body = error_body("too_many_attempts", MESSAGE, {"retry_after_minutes": minutes})
        return JsonResponse(body, status=429, headers={"Retry-After": str(minutes * 60)})
    return render(
        request,
        "registration/locked_out.html",
        {"cooloff_time": f"{minutes} minutes"},
        status=429,
    )
