"""Pages: the compliance dashboard and its data (Risk Manager and above: it is firm-wide, every
account's decisions, violations and switches, and the open surveillance alerts are counted
there only for Compliance Officers); the Prometheus endpoint."""

import hmac
import logging

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.core.time import utcnow
from apps.monitoring import selectors
from apps.rbac.access import has_role
from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5


class DashboardView(RoleRequiredMixin, TemplateView):
    required_role = Role.RISK_MANAGER
    template_name = "monitoring/dashboard.html"
    extra_context = {"refresh_seconds": REFRESH_SECONDS}


class DashboardDataView(RoleRequiredMixin, View):
    """What the dashboard's charts show, as JSON; the page fetches it every few seconds."""

    required_role = Role.RISK_MANAGER

    def get(self, request):
        data = selectors.dashboard_data(now=utcnow(), user=request.user)
        response = JsonResponse(data, encoder=DjangoJSONEncoder)
        response["Cache-Control"] = "no-store"
        return response


class ActiveViolationsCollector(Collector):
    """`active_violations{severity}`, counted in the database at scrape time: the same answer
    from every worker, whichever serves the scrape."""

    def collect(self):
        try:
            counts = selectors.violations_active_by_severity()
        except DatabaseError:
            # The processes' own series are still worth scraping while the database is down.
            logger.warning("active_violations not available: the database did not answer")
            return
        family = GaugeMetricFamily(
            "active_violations", "Active portfolio rule violations.", labels=["severity"]
        )
        for severity, count in counts.items():
            family.add_metric([severity], count)
        yield family


def _metrics_access(request) -> int:
    """200 when the caller may read the metrics, else the status to answer with."""
    header = request.headers.get("Authorization", "")
    token = settings.METRICS_TOKEN
    if header.startswith("Bearer "):
        given = header.removeprefix("Bearer ").strip()
        if token and hmac.compare_digest(given.encode(), token.encode()):
            return 200
        return 401
    if not request.user.is_authenticated:
        return 401
    return 200 if has_role(request.user, Role.RISK_MANAGER) else 403  # firm-wide figures


@never_cache
def metrics(request):
    """Prometheus text format: every process of this host (multiprocess mode), and the active
    violations from the database. Prometheus sends `Authorization: Bearer METRICS_TOKEN`;
    signed-in staff may look too."""
    status = _metrics_access(request)
    if status != 200:
        response = HttpResponse(
            "Forbidden.\n" if status == 403 else "Authentication required.\n",
            status=status,
            content_type="text/plain",
        )
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(ActiveViolationsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
