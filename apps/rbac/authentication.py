"""`Authorization: Token <key>` against hashed, expiring API tokens."""

from rest_framework import authentication, exceptions

from apps.core import context
from apps.core.errors import NotAuthenticated
from apps.rbac import refcache
from apps.rbac.services import api_token_authenticate

KEYWORD = "Token"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() != KEYWORD.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if request.method in getattr(view, "reference_checked_in_batch", ()):
            refcache.check_later()
        try:
            token = api_token_authenticate(key)
        except NotAuthenticated as exc:
            if not refcache.unverified():
                raise exceptions.AuthenticationFailed(exc.message) from None
            refcache.fresh()  # refused on what the cache held: once more, read afresh
            try:
                token = api_token_authenticate(key)
            except NotAuthenticated as again:
                raise exceptions.AuthenticationFailed(again.message) from None
        # The audit trail names the token a change was made with.
        context.current().token_name = token.name
        return token.user, token

    def authenticate_header(self, request) -> str:
        return KEYWORD


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, except a session whose user must pass a second factor and has
    not (MFA_REQUIRED_ROLES): the API then sees no user at all, whatever the middleware let
    through."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        from apps.rbac.mfa import mfa_required

        user = result[0]
        verified = getattr(user, "is_verified", None)
        if mfa_required(user) and not (verified is not None and verified()):
            return None
        return result
