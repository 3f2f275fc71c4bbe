"""The client against a live server started by the suite: real HTTP, real gate, no mocks.

`desk` fills the database (in the test's thread) before anything goes over HTTP: an account
and AAPL at 100, a 5% price collar that rejects, an approval threshold of 5,000 that holds, and
one API token per role.
"""

import contextlib
import socket
import threading
from types import SimpleNamespace

import pytest
from compliance_client import ComplianceClient, Order

from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_create
from tests.rules.factories import make_rule
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

PASSWORD = "client-test-password-1"
ROLES = {
    "viewer": Role.VIEWER,
    "trader": Role.TRADER,
    "risk": Role.RISK_MANAGER,
    "risk2": Role.RISK_MANAGER,
    "officer": Role.COMPLIANCE_OFFICER,
}


@pytest.fixture
def desk(audit_transactional_db, live_server):
    account = AccountFactory(code="ACC-T1")
    instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    ReferencePriceFactory(instrument=instrument)
    make_rule("price_collar", {"max_deviation_pct": "5"}, code="PX-COLLAR-1")
    make_rule(
        "approval_threshold", {"notional": "5000", "ttl_seconds": 600}, action="hold", code="HOLD-1"
    )
    tokens = {}
    for name, role in ROLES.items():
        user = user_create(username=name, password=PASSWORD, role=role)
        tokens[name] = api_token_issue(user=user, name="client-test")[1]
    return SimpleNamespace(url=live_server.url, tokens=tokens, account=account)


@pytest.fixture
def client_for(desk):
    """client_for("trader", **options) -> a ComplianceClient on the live server."""
    made = []

    def make(name: str = "trader", **options) -> ComplianceClient:
        client = ComplianceClient(desk.url, desk.tokens[name], timeout=10, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def order(client_order_id: str, quantity: str = "10", limit_price: str = "100", **fields):
    """A day limit buy of AAPL on ACC-T1: 10 at 100 is accepted, 100 at 100 (notional 10,000)
    is held, a limit of 150 is outside the collar and rejected."""
    return Order(
        "ACC-T1",
        "AAPL",
        fields.pop("side", "buy"),
        quantity,
        limit_price,
        client_order_id=client_order_id,
        metadata=fields.pop("metadata", {"signal_id": "sig-1"}),
        **fields,
    )


def _stop_listening(sock: socket.socket) -> None:
    """Close a listening socket and wake the thread blocked in its accept()."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class SilentServer:
    """A loopback server that accepts connections and never answers: the gate hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read nor written

    def close(self):
        _stop_listening(self.sock)
        for conn in self.accepted:
            conn.close()
        self.thread.join(timeout=5)


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DroppingProxy:
    """A TCP relay in front of the live server that loses the first `drop` answers: it passes
    the request on, waits until the server has answered (so the server has acted), and closes
    the client's connection without a byte. Later connections are relayed both ways."""

    def __init__(self, upstream: str, drop: int = 1):
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.drop = drop
        self.dropped = 0
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.threads: list[threading.Thread] = []
        self.open: list[socket.socket] = []
        self._spawn(self._accept)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.dropped < self.drop:
                self.dropped += 1
                self._spawn(self._lose_answer, conn)
            else:
                self._spawn(self._relay_both, conn)

    def _lose_answer(self, conn):
        with conn, socket.create_connection(self.upstream) as up:
            up.sendall(_read_request(conn))
            up.recv(1)  # the server has answered: the order is stored

    def _relay_both(self, conn):
        up = socket.create_connection(self.upstream)
        self.open += [conn, up]

        def pipe(src, dst):
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        self._spawn(pipe, conn, up)
        pipe(up, conn)
        conn.close()
        up.close()

    def close(self):
        _stop_listening(self.sock)
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=5)


@pytest.fixture
def dropping_proxy(desk):
    proxy = DroppingProxy(desk.url)
    yield proxy
    proxy.close()
