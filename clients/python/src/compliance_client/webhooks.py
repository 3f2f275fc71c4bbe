"""Receiving the platform's signed webhooks (approval outcomes).

Every POST carries `X-Compliance-Timestamp` and `X-Compliance-Signature: sha256=<hex
HMAC-SHA256(secret, timestamp + "." + body)>`, keyed by the account's webhook secret. A
receiver recomputes the HMAC over the exact bytes it received, compares in constant time, and
refuses a timestamp more than 5 minutes from its clock (a replay).

In a web framework you already run, call `parse_webhook(secret, request.headers, raw_body)`.
Without one, `WebhookReceiver` is a small threaded HTTP server that does it and lets a strategy
wait for an order's outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from compliance_client.errors import WaitTimeout, WebhookSignatureError
from compliance_client.models import ApprovalOutcome

TIMESTAMP_HEADER = "X-Compliance-Timestamp"
SIGNATURE_HEADER = "X-Compliance-Signature"
EVENT_HEADER = "X-Compliance-Event"
DELIVERY_HEADER = "X-Compliance-Delivery"
SCHEME = "sha256="
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1_000_000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this body (what the platform sends)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when the signature is right and the timestamp within `tolerance` seconds."""
    if not secret:
        return False
    try:
        sent = int(timestamp or "")
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, str(timestamp), body), signature or "")


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: `event` (`approval.approved`...), `delivery_id` (the same on every
    retry of one message: drop repeats by it) and the JSON `data`."""

    event: str
    delivery_id: int | None
    data: dict[str, Any]
    timestamp: int

    @property
    def outcome(self) -> ApprovalOutcome | None:
        """The approval outcome it reports (None for other events)."""
        if not self.event.startswith("approval.") or "order" not in self.data:
            return None
        return ApprovalOutcome.from_webhook(self.data)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """Verify and read one webhook; `WebhookSignatureError` when it must be refused."""
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not verify_signature(secret, timestamp, body, signature, tolerance=tolerance, now=now):
        raise WebhookSignatureError("The webhook's signature or timestamp does not verify.")
    try:
        message = json.loads(body)
    except ValueError:
        raise WebhookSignatureError("The signed body is not JSON.", code="bad_body") from None
    if not isinstance(message, dict):
        raise WebhookSignatureError("The signed body is not a JSON object.", code="bad_body")
    delivery = message.get("delivery_id")
    return WebhookEvent(
        event=str(message.get("event") or _header(headers, EVENT_HEADER) or ""),
        delivery_id=int(delivery) if isinstance(delivery, int) else None,
        data=message.get("data") if isinstance(message.get("data"), dict) else {},
        timestamp=int(str(timestamp)),
    )


class WebhookReceiver:
    """A threaded HTTP server for the platform's webhooks.

        with WebhookReceiver(secret, port=8085) as receiver:   # the account's webhook_url
            outcome = receiver.wait_for(order_id, timeout=300)

    A forged, altered or stale message is answered 401 and ignored; a repeat of a delivery
    already seen is answered 200 and not handed on twice. `on_event(event)` is called for each
    new verified event, in the server's thread.
    """

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/",
        on_event: Callable[[WebhookEvent], None] | None = None,
        tolerance: int = TOLERANCE_SECONDS,
    ) -> None:
        self.secret = secret
        self.path = path if path.startswith("/") else f"/{path}"
        self.on_event = on_event
        self.tolerance = tolerance
        self.events: list[WebhookEvent] = []
        self.refused = 0
        self._outcomes: dict[int, ApprovalOutcome] = {}
        self._seen: set[int] = set()
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def start(self) -> WebhookReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="compliance-webhooks", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def outcome(self, order_id: int) -> ApprovalOutcome | None:
        with self._changed:
            return self._outcomes.get(int(order_id))

    def wait_for(self, order_id: int, timeout: float = 300.0) -> ApprovalOutcome:
        """Block until the outcome of this held order arrives (`WaitTimeout` otherwise)."""
        with self._changed:
            if not self._changed.wait_for(lambda: int(order_id) in self._outcomes, timeout):
                raise WaitTimeout(f"No webhook for order {order_id} within {timeout} s.")
            return self._outcomes[int(order_id)]

    def handle(self, headers: Mapping[str, str], body: bytes) -> int:
        """Take one request; the HTTP status to answer with."""
        try:
            event = parse_webhook(self.secret, headers, body, tolerance=self.tolerance)
        except WebhookSignatureError:
            with self._changed:
                self.refused += 1
            return 401
        with self._changed:
            if event.delivery_id is not None:
                if event.delivery_id in self._seen:
                    return 200
                self._seen.add(event.delivery_id)
            self.events.append(event)
            outcome = event.outcome
            if outcome is not None:
                self._outcomes[outcome.order_id] = outcome
            self._changed.notify_all()
        if self.on_event is not None:
            self.on_event(event)
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                if self.path.split("?")[0] != receiver.path:
                    return self._answer(404)
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    return self._answer(400)
                if not 0 <= length <= MAX_BODY_BYTES:
                    return self._answer(413)
                body = self.rfile.read(length)
                return self._answer(receiver.handle(dict(self.headers.items()), body))

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        return Handler
