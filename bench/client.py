"""The Python client: what it adds to a decision, and how long a fail-closed rejection takes.

1. Overhead: `ComplianceClient.submit` (build the body, send, type the decision with its
   checks) against a bare `httpx.Client.post(...).json()` of the same body, both answered in
   process by the same canned decision (20 checks), so only client-side work is measured.
2. Fail closed: how long `gate()` takes to return its coded rejection against a closed port and
   against a server that accepts and never answers, as a ratio of the budget it was given
   (`timeout × (retries + 1)`).

    python bench/client.py [--calls N]
"""

import argparse
import json
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients" / "python" / "src"))
from compliance_client import ComplianceClient, Order  # noqa: E402

CHECK = {
    "rule": "PX-COLLAR-1",
    "rule_type": "price_collar",
    "status": "pass",
    "observed": "0.8",
    "threshold": "5",
    "message": "Limit 189.5 is 0.8% from the reference 188; the collar is 5%.",
    "regulation": "SEC 15c3-5(c)(1)(ii)",
    "code": "ok",
    "action": "reject",
}
DECISION = json.dumps(
    {
        "id": 4711,
        "client_order_id": "bench-1",
        "status": "accepted",
        "checks": [CHECK] * 20,
        "approval": None,
    }
).encode()


def answer(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, content=DECISION, headers={"Content-Type": "application/json"})


def per_call_us(fn, calls: int) -> float:
    for _ in range(min(200, calls)):
        fn()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def overhead(calls: int) -> None:
    order = Order("ACC-001", "AAPL", "buy", "100", "189.50", client_order_id="bench-1")
    body = order.to_json()
    transport = httpx.MockTransport(answer)
    raw = httpx.Client(base_url="http://gate.bench", transport=transport)
    client = ComplianceClient("http://gate.bench", "token", transport=transport)
    bare = per_call_us(lambda: raw.post("/api/v1/orders/", json=body).json(), calls)
    typed = per_call_us(lambda: client.submit(order), calls)
    print(f"submit, bare httpx post + json     {bare:8.1f} us/call")
    print(f"submit, ComplianceClient (typed)   {typed:8.1f} us/call")
    print(
        f"client overhead                    {typed - bare:8.1f} us/call  ratio {typed / bare:.2f}x"
    )


def fail_closed() -> None:
    order = Order("ACC-001", "AAPL", "buy", "100", "189.50")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel completes the handshake; nobody ever answers
    cases = [
        ("closed port", f"http://127.0.0.1:{port}", 0.2, 2),
        ("silent server", f"http://127.0.0.1:{silent.getsockname()[1]}", 0.2, 0),
        ("silent server", f"http://127.0.0.1:{silent.getsockname()[1]}", 0.2, 1),
    ]
    for name, url, timeout, retries in cases:
        client = ComplianceClient(url, "t", timeout=timeout, retries=retries, on_reject=None)
        start = time.perf_counter()
        decision = client.decide(order)
        elapsed = time.perf_counter() - start
        budget = timeout * (retries + 1)
        print(
            f"{name:14} timeout {timeout} s retries {retries}: {decision.status} "
            f"({decision.reason}) in {elapsed * 1000:7.1f} ms, {elapsed / budget:.2f}x the budget"
        )
        client.close()
    silent.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args, _ = parser.parse_known_args()
    overhead(args.calls)
    fail_closed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
