"""A bench-only no-op POST: the baseline that bench/pretrade.py compares the order gate with.

Routed only when settings.BENCH_NOOP_VIEW is on (config/urls.py); never in a normal deployment.
It goes through everything POST /api/v1/orders/ goes through before the gate (middleware, token
authentication, the Trader role check, JSON parsing of the same body) and then does nothing.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.rbac.roles import Role


class BenchNoopApi(APIView):
    required_roles = {"POST": Role.TRADER}

    @extend_schema(exclude=True)
    def post(self, request):
        request.data  # noqa: B018 - parse the body, as the order API does; nothing else
        return Response({"ok": True})
