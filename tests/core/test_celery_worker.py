"""A task really runs on a Celery worker process, through the broker the settings choose.

The embedded case (no REDIS_URL: kombu's filesystem transport under VAR_DIR) is what `make run`
uses on a bare machine; the Redis case runs when REDIS_URL is set, as in CI.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = (
    "import django; django.setup();"
    "from config.celery import app;"
    "print(app.send_task('core.ping', args=['hello from the broker']).get(timeout=120))"
)


def _run_ping(env: dict) -> str:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"smoke-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", CLIENT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        worker.terminate()
        _out, worker_err = worker.communicate(timeout=60)
    assert result.returncode == 0, (result.stderr[-2000:], worker_err[-2000:])
    return result.stdout.strip().splitlines()[-1]


def _env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(tmp_path),
        CELERY_TASK_ALWAYS_EAGER="false",
        DEBUG="true",
        **extra,
    )
    return env


# The Redis case joins only when a Redis is configured (CI's PostgreSQL + Redis run).
BROKERS = ["embedded"] + (["redis"] if os.environ.get("REDIS_URL") else [])


@pytest.mark.slow
@pytest.mark.parametrize("broker", BROKERS)
def test_task_executes_on_a_worker_through_the_broker(tmp_path, broker):
    extra = {"REDIS_URL": os.environ["REDIS_URL"]} if broker == "redis" else {}
    assert _run_ping(_env(tmp_path, **extra)) == "hello from the broker"
    if broker == "embedded":
        # The message went through files under VAR_DIR, not memory.
        assert (tmp_path / "celery" / "queue").is_dir()
