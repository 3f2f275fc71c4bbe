"""Every URL's view says which role it needs, so that a new endpoint cannot go out unguarded.

API views (DRF) name `required_role`, or `required_roles` for each HTTP method they answer,
and keep the permission class that reads it. Pages use `RoleRequiredMixin`. The admin site
guards itself (a role to enter, then the policy table per model). The few views open without
a role are listed below, each with its reason.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.permissions import HasRequiredRole

PUBLIC = {
    "apps.rbac.apis.TokenObtainApi": "trades a username and password for a token: no role yet",
    "drf_spectacular.views.SpectacularAPIView": "the OpenAPI description, public like the docs",
    "drf_spectacular.views.SpectacularSwaggerSplitView": "the API docs page over that description",
    "django.contrib.auth.views.LoginView": "signing in",
    "django.contrib.auth.views.LogoutView": "signing out",
    "apps.rbac.views.PasswordResetView": "asks for a reset link by email: no role yet",
    "django.contrib.auth.views.PasswordResetDoneView": "says the link is on its way",
    "apps.rbac.views.PasswordResetConfirmView": "the emailed link, its token is the credential",
    "django.contrib.auth.views.PasswordResetCompleteView": "says the password is set",
    "apps.core.views.favicon": "the icon",
    "apps.core.views.healthz": "the load balancer's liveness probe: no data",
    "apps.core.views.readyz": "the readiness probe: no data",
    "apps.monitoring.views.metrics": "Prometheus: its bearer token, or a signed-in Risk Manager",
    "apps.core.api.json_error_view.<locals>.view": "the 404 body for unknown API paths",
}
# The admin site: ComplianceAdminSite admits users with a role, and each model admin's
# has_*_permission reads the policy table (RoleAdminMixin).
GUARDED_BY_ITSELF = {"admin"}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in GUARDED_BY_ITSELF:
                continue
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _name(view) -> str:
    target = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
    return f"{target.__module__}.{target.__qualname__}"


ROUTES = sorted(_routes(get_resolver().url_patterns), key=lambda route: route[0])


def test_the_walk_reaches_the_api_and_the_pages():
    names = {_name(view) for _route, view in ROUTES}
    assert {
        "apps.rules.apis.OrderListCreateApi",
        "apps.approvals.apis.ApprovalApproveApi",
        "apps.approvals.views.ApprovalQueueView",
        "apps.reporting.views.ReportListView",
    } <= names
    assert set(PUBLIC) <= names, "an entry of PUBLIC names a view that no URL serves"


@pytest.mark.parametrize(("route", "view"), ROUTES, ids=[route for route, _view in ROUTES])
def test_the_view_declares_its_role(route, view):
    name = _name(view)
    if name in PUBLIC:
        return
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    assert cls is not None, f"{route}: {name} is a function view: make it a class with a role"
    if issubclass(cls, APIView):
        assert HasRequiredRole in cls.permission_classes, f"{route}: {name} drops the role check"
        if getattr(cls, "required_role", None) is None:
            per_method = getattr(cls, "required_roles", None) or {}
            answered = {m.upper() for m in METHODS if hasattr(cls, m)}
            assert answered and answered <= set(per_method), (
                f"{route}: {name} names no role for {sorted(answered - set(per_method))}"
            )
    else:
        assert issubclass(cls, RoleRequiredMixin), f"{route}: {name} is a page without a role"
        own = cls.__mro__[: cls.__mro__.index(RoleRequiredMixin)]
        assert any("required_role" in vars(c) for c in own), (
            f"{route}: {name} names no required_role (the mixin's default is Admin)"
        )


def _named(cls, method: str) -> tuple:
    per_method = getattr(cls, "required_roles", None) or {}
    role = per_method.get(method, getattr(cls, "required_role", None))
    return role if isinstance(role, tuple) else (role,)


def test_the_feed_passes_only_where_a_view_names_it(make_user):
    """Feed is outside the ladder: it passes no view that asks for a role (Viewer included),
    only the few that name it: the drop copy and the market data (and who-am-I and revoking its
    own token)."""
    from types import SimpleNamespace

    from apps.rbac.roles import ServiceRole

    feed = make_user(ServiceRole.FEED)
    passed = set()
    for route, view in ROUTES:
        cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
        if _name(view) in PUBLIC or cls is None or not issubclass(cls, APIView):
            continue
        for method in (m.upper() for m in METHODS if hasattr(cls, m)):
            request = SimpleNamespace(user=feed, method=method)
            allowed = HasRequiredRole().has_permission(request, cls())
            assert allowed is (ServiceRole.FEED in _named(cls, method)), (route, method)
            if allowed:
                passed.add((route, method))
    assert passed == {
        ("api/v1/surveillance/executions/", "POST"),
        ("api/v1/market-data/trades/", "POST"),
        ("api/v1/market-data/quotes/", "POST"),
        ("api/v1/auth/me/", "GET"),
        ("api/v1/auth/token/revoke/", "POST"),
    }
