"""/metrics after some activity shows every series by its exact name; the dashboard pages and
/metrics refuse callers without the role."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from apps.monitoring.services import monitor_run
from apps.rbac.roles import Role
from tests.monitoring.conftest import NOW
from tests.permissions import assert_page_role_required
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import InstrumentFactory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "prometheus-scrape-token-0123456789"

NAMES = [
    "compliance_issues_total",
    "active_violations",
    "compliance_check_duration_seconds_bucket",
    "compliance_check_duration_seconds_count",
    "compliance_checks_total",
    "risk_check_failures_total",
    "alert_delivery_total",
    "http_requests_total",
    "http_request_duration_seconds_bucket",
]


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in the Prometheus text format."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return get


def test_metrics_show_every_name_after_activity(
    book, scrape, api_client_for, make_user, account, instrument, django_capture_on_commit_callbacks
):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    officer.email = "officer@example.com"
    officer.save(update_fields=["email"])
    before = scrape()
    # Pre-trade: one accepted order, one rejected by a rule, one failing closed (no price).
    make_rule("max_notional", {"max_notional": "5000"})
    trader = api_client_for(Role.TRADER)
    assert trader.post("/api/v1/orders/", order_body("m-1"), format="json").status_code == 201
    big = order_body("m-2", quantity="1000")
    assert trader.post("/api/v1/orders/", big, format="json").json()["status"] == "rejected"
    make_rule("price_collar", {"max_deviation_pct": "5"})
    InstrumentFactory(symbol="NOPX", calendar="24/7")  # no reference price at all
    market = order_body("m-3", order_type="market", limit_price=None, instrument="NOPX")
    assert trader.post("/api/v1/orders/", market, format="json").json()["status"] == "rejected"
    # The monitor: a violation, routed (email: nothing else is set up), delivered.
    make_rule("position_weight", {"max_pct": "45"})
    with django_capture_on_commit_callbacks(execute=True):
        monitor_run(now=NOW)

    text = scrape()
    for name in NAMES:
        assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), name
    rise = lambda name, **labels: sample(text, name, **labels) - sample(before, name, **labels)  # noqa: E731
    assert rise("compliance_checks_total", check_type="pretrade", status="accepted") >= 1
    assert rise("compliance_checks_total", check_type="pretrade", status="rejected") >= 2
    assert rise("compliance_checks_total", check_type="portfolio", status="ok") == 1
    assert (
        rise("compliance_issues_total", severity="critical", issue_code="notional_above_max") >= 1
    )
    assert rise("compliance_issues_total", severity="warning", issue_code="position_weight") == 2
    assert rise("risk_check_failures_total", failure_type="no_reference_price") == 1
    assert rise("compliance_check_duration_seconds_count", check_type="pretrade") >= 3
    assert rise("alert_delivery_total", channel="email", severity="warning", status="sent") == 2
    assert sample(text, "active_violations", severity="warning") == 2
    assert sample(text, "active_violations", severity="critical") == 0
    assert rise("http_requests_total", method="POST", route="api/v1/orders/", status="201") >= 1


def test_active_violations_come_from_the_database(book, scrape):
    make_rule("herfindahl", {"max_index": "0.3", "severity": "critical"})
    monitor_run(now=NOW)
    assert sample(scrape(), "active_violations", severity="critical") == 3


def test_metrics_refuse_without_the_token_or_a_role(db, client, settings, make_user):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    client.force_login(make_user(None))
    assert client.get("/metrics").status_code == 403
    for below in (Role.VIEWER, Role.TRADER):  # firm-wide figures: not for one desk
        client.force_login(make_user(below))
        assert client.get("/metrics").status_code == 403
    client.force_login(make_user(Role.RISK_MANAGER))
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/data/"])
def test_dashboard_pages_need_a_risk_manager(db, client, make_user, path):
    """Firm-wide: every account's decisions, violations and switches."""
    assert_page_role_required(client, make_user, path, Role.RISK_MANAGER)


def test_the_dashboard_counts_alerts_for_compliance_only(db, client, make_user):
    from tests.surveillance.factories import AlertFactory

    AlertFactory()
    client.force_login(make_user(Role.RISK_MANAGER))
    assert client.get("/dashboard/data/").json()["open_alerts_by_detector"] == {}
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    assert sum(client.get("/dashboard/data/").json()["open_alerts_by_detector"].values()) == 1


def test_the_dashboard_page_loads_its_vendored_charts(db, client, make_user):
    client.force_login(make_user(Role.RISK_MANAGER))
    html = client.get("/dashboard/").content.decode()
    assert "/static/vendor/chart.umd.min.js" in html
    # Every script comes from this site: no src= points at another host.
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    for canvas in ("chart-decisions", "chart-rejections", "chart-violations", "chart-alerts"):
        assert f'id="{canvas}"' in html


QUIET_SCRAPE = (
    "import django; django.setup();"
    "from prometheus_client import CollectorRegistry, generate_latest;"
    "from prometheus_client.multiprocess import MultiProcessCollector;"
    "registry = CollectorRegistry(); MultiProcessCollector(registry);"
    "print(generate_latest(registry).decode())"
)


def test_every_series_is_there_at_zero_before_any_activity(tmp_path):
    """A process that has done nothing yet: Grafana panels and alert rules read 0, not "no
    data" (active_violations is read from the database at scrape time, so it is always there)."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", QUIET_SCRAPE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    for name in NAMES:
        if name != "active_violations":
            assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), name
    for failure_type in ("no_reference_price", "fx_rate_unavailable", "database_error"):
        line = f'risk_check_failures_total{{failure_type="{failure_type}"}} 0.0'
        assert line in text, failure_type
    assert 'alert_delivery_total{channel="pagerduty",severity="critical",status="failed"} 0.0' in (
        text
    )
    assert 'compliance_checks_total{check_type="pretrade",status="rejected"} 0.0' in text
