import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from apps.notifications import tasks


@pytest.fixture
def receiver():
    """A real HTTP server on the loopback: records each POST (path, headers, body) and answers
    with the next code from `statuses` (200 once they run out) and the body `reply`."""
    hits: list[dict] = []
    statuses: list[int] = []
    state = SimpleNamespace(reply=b"")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_port}"
    state.url = f"{state.base}/hooks/orders"
    state.hits, state.statuses = hits, statuses
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def free_port() -> int:
    """A loopback port nothing listens on (the system picked it, and it is let go at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port_url():
    """A loopback URL where nothing listens: connection refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


@pytest.fixture
def retries(monkeypatch):
    """The countdowns the deliver task scheduled its next attempts with (eager: run at once).
    The first attempt is enqueued with no countdown and is not listed."""
    countdowns: list[int] = []
    original = tasks.deliver.apply_async

    def spy(args=None, kwargs=None, countdown=None, **options):
        if countdown is not None:
            countdowns.append(countdown)
        return original(args=args, kwargs=kwargs, countdown=countdown, **options)

    monkeypatch.setattr(tasks.deliver, "apply_async", spy)
    return countdowns
