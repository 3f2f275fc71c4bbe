from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.rbac.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Send "Token <key>", the key from POST /api/v1/auth/token/.',
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    """The browser's session cookie, as drf-spectacular describes DRF's own session scheme."""

    target_class = "apps.rbac.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A signed-in browser session (with its second factor where the "
            "role needs one).",
        }
