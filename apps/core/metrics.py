"""Prometheus metrics: each defined once, here, so that every app counts into the same series.

The processes (gunicorn workers, Celery worker children) write their samples into
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up in settings before this
module is imported); `/metrics` adds them up across the processes of the host. Updates are a
label lookup and an increment in a memory-mapped file: cheap enough for the gate's hot path,
and never a database query.
"""

import time

from prometheus_client import Counter, Histogram

COMPLIANCE_ISSUES = Counter(
    "compliance_issues",
    "Compliance issues found: a pre-trade check that failed or warned, a portfolio limit breach.",
    ["severity", "issue_code"],
)
COMPLIANCE_CHECKS = Counter(
    "compliance_checks",
    "Compliance checks run (pretrade: one per order decision; portfolio: one per monitor run).",
    ["check_type", "status"],
)
COMPLIANCE_CHECK_DURATION = Histogram(
    "compliance_check_duration_seconds",
    "How long a compliance check took.",
    ["check_type"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RISK_CHECK_FAILURES = Counter(
    "risk_check_failures",
    "Checks that could not be carried out and failed closed (missing or stale data, an error).",
    ["failure_type"],
)
ALERT_DELIVERY = Counter(
    "alert_delivery",
    "Delivery attempts of notifications by channel, severity and outcome.",
    ["channel", "severity", "status"],
)
HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Check result codes that mean "could not be checked", not "checked and failed".
FAIL_CLOSED_CODES = frozenset(
    {
        "rule_error",
        "evaluation_error",
        "no_reference_price",
        "stale_reference_price",
        "no_price",
        "fx_rate_unavailable",
    }
)
# Failure types that come from elsewhere than a check's code.
OTHER_FAILURE_TYPES = ("database_error", "monitor_error")
# A failed check's action says how bad the issue is.
_SEVERITY_BY_ACTION = {"reject": "critical", "hold": "warning", "warn": "info"}


_children: dict[tuple, object] = {}


def _child(metric, *labels):
    """The labelled series, looked up once per process (labels() takes a lock each time)."""
    key = (metric._name, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def pretrade_observe(*, decision: str, checks: list[dict], seconds: float) -> None:
    """One pre-trade decision: its outcome, its duration, and each check that did not pass."""
    _child(COMPLIANCE_CHECKS, "pretrade", decision).inc()
    _child(COMPLIANCE_CHECK_DURATION, "pretrade").observe(seconds)
    for check in checks:
        status = check.get("status")
        if status != "fail" and status != "warn":
            continue
        code = check.get("code") or "failed"
        severity = (
            "info" if status == "warn" else _SEVERITY_BY_ACTION.get(check.get("action"), "critical")
        )
        _child(COMPLIANCE_ISSUES, severity, code).inc()
        if code in FAIL_CLOSED_CODES:
            _child(RISK_CHECK_FAILURES, code).inc()


def series_initialise(
    *, decisions: tuple, channels: tuple, severities: tuple, delivery_statuses: tuple
) -> None:
    """Create the known labelled series at zero, so that every family is on `/metrics` from the
    start: a dashboard or an alert rule on a quiet day reads 0, not "no data"."""
    for decision in decisions:
        _child(COMPLIANCE_CHECKS, "pretrade", decision)
    for status in ("ok", "error"):
        _child(COMPLIANCE_CHECKS, "portfolio", status)
    for check_type in ("pretrade", "portfolio"):
        _child(COMPLIANCE_CHECK_DURATION, check_type)
    for failure_type in (*sorted(FAIL_CLOSED_CODES), *OTHER_FAILURE_TYPES):
        _child(RISK_CHECK_FAILURES, failure_type)
        _child(COMPLIANCE_ISSUES, "critical", failure_type)
    for channel in channels:
        for severity in severities:
            for status in delivery_statuses:
                _child(ALERT_DELIVERY, channel, severity, status)
    _child(HTTP_REQUESTS, "GET", "metrics", "200")
    _child(HTTP_REQUEST_DURATION, "GET", "metrics")


class HttpMetricsMiddleware:
    """Counts and times every request by its URL pattern (not its path: ids would make a
    series per order)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - started)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
