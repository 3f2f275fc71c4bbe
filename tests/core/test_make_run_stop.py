"""`make run` stops cleanly: Ctrl-C (SIGINT to the terminal's process group) leaves no process
behind, web server, Celery worker, its pool, and beat included, within 10 seconds.

It runs the real `make run` on an empty SQLite database under a temporary VAR_DIR, with the
embedded broker, on a free port.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN = 10  # seconds, what the operations guide promises


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields follow the last ")".
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def _descendants(pid: int) -> set[int]:
    tree = _children()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _groups(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            found.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2]))
    return found


def _in_groups(groups: set[int]) -> set[int]:
    """Live processes in these process groups, wherever their parents went."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _alive(int(entry)) and _groups({int(entry)}) & groups:
            found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_ctrl_c_stops_every_process_of_make_run(tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "MAKEFLAGS", "MFLAGS"}
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), DEBUG="true", DEMO_PASSWORD="")
    log = (tmp_path / "run.log").open("w")
    # A new session stands for the terminal: Ctrl-C signals its whole foreground process group.
    make = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600  # migrating and seeding an empty database comes first
        while not _serving(port):
            assert make.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.5)
        # The worker and beat are up too: wait until the worker's pool has started.
        while True:
            commands = [_command(p) for p in _descendants(make.pid)]
            if sum("celery" in c and " worker" in c for c in commands) >= 2 and any(
                "celery" in c and " beat" in c for c in commands
            ):
                break
            assert time.monotonic() < deadline, commands
            time.sleep(0.5)
        started = _descendants(make.pid)
        groups = _groups(started)

        os.killpg(make.pid, signal.SIGINT)
        stop_by = time.monotonic() + STOP_WITHIN
        while time.monotonic() < stop_by and (
            make.poll() is None or any(_alive(p) for p in started) or _in_groups(groups)
        ):
            time.sleep(0.1)
        left = {p: _command(p) for p in {p for p in started if _alive(p)} | _in_groups(groups)}
        assert make.poll() is not None, "make run still running 10 s after Ctrl-C"
        assert not left, f"left behind after Ctrl-C: {left}"
    finally:
        for pid in _descendants(make.pid) | {make.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        make.wait(timeout=30)
        log.close()
