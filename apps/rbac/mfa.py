"""The second factor (TOTP through django-otp) for the roles in MFA_REQUIRED_ROLES.

Pages and the admin: a signed-in user of such a role who has not passed the second factor in
this session is sent to enrol (no confirmed device yet) or to enter a code. The API: a session
that has not passed it gets a 403 (`mfa_required`); a token is issued only with a valid code
(`otp`), so a token always stands for both factors. Recovery codes (a django-otp static device)
stand in for the authenticator once each.
"""

from urllib.parse import quote

from django.conf import settings
from django.core.checks import Error, register
from django.http import JsonResponse
from django.shortcuts import redirect
from django_otp import devices_for_user, match_token, user_has_device

from apps.core.api import error_body
from apps.rbac.access import user_role
from apps.rbac.roles import Role

# Short names DESIGN.md uses, beside every role's own slug.
_ALIASES = {"risk": Role.RISK_MANAGER, "compliance": Role.COMPLIANCE_OFFICER}

VERIFY_URL = "/accounts/otp/"
SETUP_URL = "/accounts/otp/setup/"
# Reachable before the second factor: the factor's own pages, signing in and out, and what
# carries no client data.
_OPEN_PREFIXES = (
    "/accounts/otp/",
    "/accounts/login/",
    "/accounts/logout/",
    "/admin/login/",
    "/admin/logout/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
)


def parse_roles(names) -> set[Role]:
    roles = set()
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        roles.add(_ALIASES.get(name.lower()) or Role.from_slug(name))
    return roles


def required_roles() -> set[Role]:
    return parse_roles(getattr(settings, "MFA_REQUIRED_ROLES", []) or [])


def mfa_required(user) -> bool:
    """Must this user pass a second factor? (No query when no role needs one.)"""
    names = getattr(settings, "MFA_REQUIRED_ROLES", None)
    if not names:
        return False
    role = user_role(user)
    return role is not None and role in required_roles()


def is_enrolled(user) -> bool:
    """Has a confirmed authenticator (a recovery-code device alone does not count)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def otp_match(user, code: str):
    """The device (authenticator or recovery codes) that accepts `code`, or None. Each device
    throttles its own failures (django-otp), so guessing slows down after a few misses."""
    code = (code or "").strip().replace(" ", "")
    if not code or not user_has_device(user):
        return None
    return match_token(user, code)


def confirmed_devices(user) -> list:
    return list(devices_for_user(user, confirmed=True))


def _api_token_request(request) -> bool:
    """An API request that authenticates with `Authorization: Token <key>`: the token (issued
    only after the second factor) speaks for the user, not the session. Any other scheme, or
    any path outside the API, leaves the session to be held."""
    if not request.path.startswith("/api/"):
        return False
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0]
    return scheme.lower() == "token"


class MfaRequiredMiddleware:
    """After django-otp's OTPMiddleware: hold a session user whose role needs a second factor
    until they pass it. API requests with a Token header are left to the API's token
    authentication (a token is issued only after the second factor)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        held = self._held(request)
        return held if held is not None else self.get_response(request)

    def _held(self, request):
        if not getattr(settings, "MFA_REQUIRED_ROLES", None):
            return None
        if request.path.startswith(_OPEN_PREFIXES) or _api_token_request(request):
            return None
        user = request.user
        if not user.is_authenticated or not mfa_required(user) or user.is_verified():
            return None
        if request.path.startswith("/api/"):
            body = error_body(
                "mfa_required",
                "Pass the second factor first (sign in again at /accounts/login/).",
                {"verify_url": VERIFY_URL},
            )
            return JsonResponse(body, status=403)
        target = VERIFY_URL if is_enrolled(user) else SETUP_URL
        return redirect(f"{target}?next={quote(request.get_full_path())}")


@register()
def check_mfa_roles(app_configs, **kwargs):
    try:
        required_roles()
    except KeyError as exc:
        return [
            Error(
                f"MFA_REQUIRED_ROLES names an unknown role: {exc}.",
                hint="Use risk, compliance, admin, trader or viewer.",
                id="rbac.E001",
            )
        ]
    return []
