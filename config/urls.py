from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.core.api import json_error_view
from apps.rbac import views as rbac_views
from apps.trading import views as trading_views

api_v1 = [
    path("", include("apps.rbac.urls")),
    path("", include("apps.audit.urls")),
    path("", include("apps.trading.urls")),
    path("", include("apps.changes.urls")),
    path("", include("apps.rules.urls")),
    path("", include("apps.killswitch.urls")),
    path("", include("apps.approvals.urls")),
    path("", include("apps.marketdata.urls")),
    path("", include("apps.surveillance.urls")),
    path("", include("apps.monitoring.urls")),
    path("", include("apps.reporting.urls")),
]

urlpatterns = [
    path("", trading_views.DashboardView.as_view(), name="dashboard"),
    path("orders/", trading_views.OrderListView.as_view(), name="orders"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", rbac_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        rbac_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/otp/", rbac_views.OtpVerifyView.as_view(), name="otp-verify"),
    path("accounts/otp/setup/", rbac_views.OtpSetupView.as_view(), name="otp-setup"),
    path(
        "accounts/otp/recovery-codes/",
        rbac_views.OtpRecoveryCodesView.as_view(),
        name="otp-recovery-codes",
    ),
    path("admin/", admin.site.urls),
    path("", include("apps.audit.page_urls")),
    path("", include("apps.killswitch.page_urls")),
    path("", include("apps.approvals.page_urls")),
    path("", include("apps.surveillance.page_urls")),
    path("", include("apps.monitoring.page_urls")),
    path("", include("apps.reporting.page_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves the page's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("favicon.ico", core_views.favicon),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    # Unknown API paths answer with the error body, in DEBUG too.
    re_path(r"^api/", json_error_view(404, "not_found", "No such API endpoint.")),
]

if settings.BENCH_NOOP_VIEW:  # bench/pretrade.py only; first, so the ^api/ catch-all misses it
    from apps.demo.bench import BenchNoopApi

    urlpatterns.insert(0, path("api/v1/bench/noop/", BenchNoopApi.as_view()))

handler404 = "config.urls.not_found"
handler500 = "config.urls.server_error"


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error_view(404, "not_found", "Not found.")(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error_view(500, "server_error", "Internal error.")(request)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
