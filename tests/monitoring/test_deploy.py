"""The deployment files: metrics across several real gunicorn workers add up; the Grafana
dashboard and the Prometheus files use exactly the platform's metric names; the Procfile starts
web, worker and beat."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.notifications.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMES = {
    "compliance_issues_total",
    "active_violations",
    "compliance_check_duration_seconds",
    "compliance_checks_total",
    "risk_check_failures_total",
    "alert_delivery_total",
    "http_requests_total",
    "http_request_duration_seconds",
}
SUFFIXES = ("_bucket", "_count", "_sum")
PROMQL_WORDS = {
    "sum", "max", "min", "by", "rate", "increase", "topk", "histogram_quantile", "le", "status",
    "severity", "issue_code", "check_type", "failure_type", "channel", "route", "method",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (words that are not PromQL or label names)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"[a-z_][a-z0-9_]*", expr)) - PROMQL_WORDS
    return {
        next((w.removesuffix(s) for s in SUFFIXES if w.endswith(s)), w)
        if not w.endswith("_total")
        else w
        for w in words
    }


def test_the_grafana_dashboard_uses_exactly_the_metric_names():
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names <= NAMES, (panel["title"], names - NAMES)
            used |= names
    assert used == NAMES


def test_prometheus_scrape_config_and_alert_rules():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["compliance-web"]["metrics_path"] == "/metrics"
    assert jobs["compliance-web"]["authorization"]["type"] == "Bearer"
    assert jobs["compliance-worker"]["static_configs"][0]["targets"]
    rules = yaml.safe_load((DEPLOY / config["rule_files"][0]).read_text())
    for rule in rules["groups"][0]["rules"]:
        assert metric_names(rule["expr"]) <= NAMES, rule["alert"]


def test_the_procfile_starts_web_worker_and_beat():
    entries = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(entries) == {"web", "worker", "beat"}
    assert "gunicorn config.wsgi --config deploy/gunicorn.conf.py" in entries["web"]
    assert "celery -A config worker" in entries["worker"]
    assert "celery -A config beat" in entries["beat"]


def get(url: str, token: str | None = None) -> str:
    headers = {"Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.read().decode()


@pytest.mark.slow
def test_metrics_add_up_across_several_gunicorn_workers(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN="scrape-token-for-the-test",
        DEBUG="true",
        PORT=str(port),
        WEB_WORKERS="3",
        WEB_THREADS="1",
    )
    # A worker that already served 5 health checks and exited (max_requests recycles workers):
    # its file stays and must still count. It also makes the sum over several files certain,
    # whichever live worker the kernel hands each connection to.
    seed = (
        "import django; django.setup(); from apps.core.metrics import HTTP_REQUESTS; "
        "HTTP_REQUESTS.labels('GET', 'healthz', '200').inc(5)"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=ROOT, env=env, check=True)  # noqa: S603
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--config",
            str(DEPLOY / "gunicorn.conf.py"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        # Many short connections at once: the kernel spreads them over the workers.
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda _: get(f"{base}/healthz"), range(60)))
        pids = {f.name.split("_")[-1] for f in metrics_dir.glob("counter_*.db")}
        text = get(f"{base}/metrics", token="scrape-token-for-the-test")
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("http_requests_total{") and 'route="healthz"' in line
    )
    # 61 answered health checks (the first one that got through, then 60), whichever worker
    # answered each, and the 5 of the worker gone: the sum over every process's file.
    assert float(line.rsplit(" ", 1)[1]) == 66.0, err.decode()[-2000:]
    assert len(pids) >= 2
