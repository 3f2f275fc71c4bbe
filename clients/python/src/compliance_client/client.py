"""The client: `ComplianceClient` (sync) and `AsyncComplianceClient`, both on httpx.

    client = ComplianceClient("https://compliance.example.com", token="...")
    decision = client.submit(Order("ACC-001", "AAPL", "buy", "100", "189.50"))

Retries happen only where they are safe: a request that never reached the server (no
connection) is sent again whatever it is; one that may have reached it (a timeout while reading,
a dropped answer, a 502/503/504) only when it is a read, the dry run, a submit or a basket,
which the platform makes idempotent by each order's `client_order_id`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import httpx

from compliance_client import _ops
from compliance_client.errors import (
    ComplianceError,
    GateTimeout,
    GateUnavailable,
    ProtocolError,
    WaitTimeout,
    error_from_response,
)
from compliance_client.models import (
    AmendResult,
    Amount,
    ApprovalOutcome,
    Decision,
    FillResult,
    Instrument,
    KillSwitch,
    Order,
    OrderInfo,
    Position,
)

__all__ = ["AsyncComplianceClient", "AsyncPendingOrder", "ComplianceClient", "PendingOrder"]

T = TypeVar("T")
logger = logging.getLogger("compliance_client")

USER_AGENT = "compliance-client/0.1"
RETRY_STATUSES = frozenset({502, 503, 504})
# Never sent: the server cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
OnUnavailable = Literal["reject", "raise"]
RejectHook = Callable[[Order, Decision], None]


def _log_rejection(order: Order, decision: Decision) -> None:
    logger.warning(
        "order %s rejected: %s%s",
        order.client_order_id,
        decision.reason or "rejected",
        f" ({decision.message})" if decision.message else "",
    )


def _transport_error(exc: httpx.TransportError, url: str) -> GateUnavailable:
    if isinstance(exc, httpx.TimeoutException):
        return GateTimeout(f"No answer from {url} in time ({type(exc).__name__}).")
    return GateUnavailable(f"Cannot reach {url}: {exc or type(exc).__name__}.")


def _parse(call: _ops.Call[T], response: httpx.Response) -> Any:
    """The JSON of an answer, or the typed exception of an error answer."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
        if response.is_success:
            raise ProtocolError(
                f"{call.method} {call.path}: the answer is not JSON.", status=response.status_code
            ) from None
    if not response.is_success:
        raise error_from_response(response.status_code, body)
    return body


def _read(call: _ops.Call[T], body: Any, status: int) -> T:
    try:
        return call.parse(body, status)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ProtocolError(
            f"{call.method} {call.path}: unexpected answer ({exc!r}).", status=status
        ) from exc


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.05,
        max_backoff: float = 1.0,
        on_unavailable: OnUnavailable = "reject",
        on_reject: RejectHook | None = _log_rejection,
        transport: Any = None,
    ) -> None:
        if on_unavailable not in ("reject", "raise"):
            # There is deliberately no "accept": an unanswered order is never let through.
            raise ValueError("on_unavailable: 'reject' or 'raise'")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_unavailable = on_unavailable
        self.on_reject = on_reject
        self.token = token
        self._headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self._http = self._open(transport)

    def _open(self, transport: Any) -> Any:
        raise NotImplementedError

    def _next_page(self, link: str | None) -> str | None:
        """A page link's path and query, sent to our own base URL (never another host with
        our token), whatever host the platform saw behind a proxy."""
        if not link:
            return None
        return str(httpx.URL(self.base_url).copy_with(raw_path=httpx.URL(link).raw_path))

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: 0.05 s, 0.1 s, 0.2 s... at most `max_backoff`."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return base * (0.5 + random.random() / 2)

    def _should_retry(
        self, call: _ops.Call[Any], attempt: int, exc: Exception | None, status: int | None
    ) -> bool:
        if attempt > self.retries:
            return False
        if exc is not None:
            return isinstance(exc, _NOT_SENT) or call.idempotent
        return status in RETRY_STATUSES and call.idempotent

    def _decision_for(self, order: Order, exc: ComplianceError) -> Decision:
        """Fail closed: an order the gate did not accept in so many words is rejected."""
        if self.on_unavailable == "raise":
            raise exc
        # The reason is the error's code: gate_unreachable, gate_timeout, bad_response, or the
        # platform's own (database_unavailable, validation_error, client_order_id_reused...).
        return Decision.fail_closed(order, exc.code, str(exc))

    def _gated(self, order: Order, decision: Decision, pending_cls: type) -> Any:
        if decision.accepted:
            return order
        if decision.pending:
            return pending_cls(order=order, decision=decision, client=self)
        if self.on_reject is not None:
            self.on_reject(order, decision)
        return None


class ComplianceClient(_Base):
    """A typed, synchronous client of the compliance platform.

    `timeout` is per request, in seconds; `retries` how many times a request is sent again
    where that is safe (see the module's doc). `gate()` and `decide()` fail closed: an order
    the platform did not answer is rejected with a coded reason (`on_unavailable="raise"` to
    get the exception instead). `on_reject(order, decision)` is called for each order `gate()`
    rejects (by default, a warning on the `compliance_client` logger).
    """

    def _open(self, transport: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def login(
        cls, base_url: str, username: str, password: str, *, otp: str | None = None, **options: Any
    ) -> ComplianceClient:
        """A client holding a fresh API token for this user. `otp`: the authenticator's code
        (or a recovery code) for the roles that need a second factor."""
        with cls(base_url, **options) as anonymous:
            key = anonymous._send(_ops.token(username, password, otp=otp))
        return cls(base_url, key, **options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ComplianceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: _ops.Call[T]) -> T:
        if call.paged:
            return _read(call, self._pages(call), 200)
        body, status = self._request(call, call.path)
        return _read(call, body, status)

    def _pages(self, call: _ops.Call[Any]) -> list[Any]:
        rows: list[Any] = []
        url: str | None = call.path
        while url:
            page, _status = self._request(call, url)
            rows.extend(page["results"])
            url = self._next_page(page.get("next"))
            call = _ops.Call(call.method, call.path, call.parse, idempotent=True)  # url has them
        return rows

    def _request(self, call: _ops.Call[Any], url: str) -> tuple[Any, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(call.method, url, json=call.body, params=call.params)
            except httpx.TransportError as exc:
                if self._should_retry(call, attempt, exc, None):
                    time.sleep(self._delay(attempt))
                    continue
                raise _transport_error(exc, self.base_url) from exc
            except httpx.HTTPError as exc:  # an answer httpx cannot read (bad encoding...)
                raise ProtocolError(f"{call.method} {call.path}: {exc!r}.") from exc
            if self._should_retry(call, attempt, None, response.status_code):
                time.sleep(self._delay(attempt))
                continue
            return _parse(call, response), response.status_code

    # --- the gate -------------------------------------------------------------------------

    def submit(self, order: Order) -> Decision:
        """Send the order through the gate: the decision with every rule's result. Raises
        on errors (`GateUnavailable`, `BadRequest`, ...); see `decide` and `gate`."""
        return self._send(_ops.submit(order))

    def submit_basket(self, orders: Sequence[Order]) -> list[Decision]:
        """Send many orders in one request (at most the platform's `ORDER_BASKET_MAX_ORDERS`,
        500): each is decided as if sent alone right after the one before it, all are stored
        in one transaction, and the decisions come back in the same order. Retried like
        `submit` (each order is idempotent by its client_order_id). Raises on errors: a
        `BadRequest` whose `details` name the orders (`orders[3].quantity`), an
        `IdempotencyConflict` whose `details["index"]` names the order; nothing of the basket
        is stored then. `ValueError` for an empty basket or a client_order_id in it twice."""
        return self._send(_ops.submit_basket(orders))

    def check(self, order: Order) -> Decision:
        """The same evaluation as a dry run: nothing is stored."""
        return self._send(_ops.check(order))

    def decide(self, order: Order) -> Decision:
        """`submit`, failing closed: never raises for an unreachable or failing gate, but
        answers a rejection with a coded reason (`gate_unreachable`, `gate_timeout`,
        `gate_unavailable`, or the platform's error code)."""
        try:
            return self.submit(order)
        except ComplianceError as exc:
            return self._decision_for(order, exc)

    def gate(self, order: Order) -> Order | PendingOrder | None:
        """The first step of a strategy cycle: the order when accepted, None when rejected
        (for any reason, the gate being unreachable included), a `PendingOrder` when held.
        Never waits for an approver."""
        return self._gated(order, self.decide(order), PendingOrder)

    # --- orders ---------------------------------------------------------------------------

    def order(self, order_id: int) -> OrderInfo:
        return self._send(_ops.order(order_id))

    def orders(self, **filters: Any) -> list[OrderInfo]:
        """Newest first: `account`, `instrument`, `status`, `date`, `limit` (100)."""
        return self._send(_ops.orders(**filters))

    def fill(
        self,
        order_id: int,
        *,
        exec_id: str,
        quantity: Amount,
        price: Amount,
        venue: str,
        executed_at: datetime,
        liquidity: str,
        commission: Amount | None = None,
    ) -> FillResult:
        return self._send(
            _ops.fill(
                order_id,
                exec_id=exec_id,
                quantity=quantity,
                price=price,
                venue=venue,
                executed_at=executed_at,
                liquidity=liquidity,
                commission=commission,
            )
        )

    def cancel(self, order_id: int) -> OrderInfo:
        return self._send(_ops.cancel(order_id))

    def amend(
        self, order_id: int, *, quantity: Amount | None = None, limit_price: Amount | None = None
    ) -> AmendResult:
        return self._send(_ops.amend(order_id, quantity=quantity, limit_price=limit_price))

    def positions(
        self,
        *,
        account: str | None = None,
        instrument: str | None = None,
        nonzero: bool | None = None,
    ) -> list[Position]:
        return self._send(_ops.positions(account=account, instrument=instrument, nonzero=nonzero))

    def instruments(
        self, *, symbol: str | None = None, asset_class: str | None = None
    ) -> list[Instrument]:
        """Reference data with each instrument's latest reference price."""
        return self._send(_ops.instruments(symbol=symbol, asset_class=asset_class))

    # --- approvals ------------------------------------------------------------------------

    def approval_outcome(self, order_id: int) -> ApprovalOutcome | None:
        """One look: how the held order ended, or None while it waits."""
        return ApprovalOutcome.from_order(self.order(order_id))

    def wait_for_approval(
        self,
        order_id: int,
        *,
        timeout: float = 300.0,
        interval: float = 0.25,
        max_interval: float = 5.0,
    ) -> ApprovalOutcome:
        """Poll the order, backing off from `interval` to `max_interval`, until its approval
        is decided, expires or is canceled. `WaitTimeout` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.approval_outcome(order_id)
            if outcome is not None:
                return outcome
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"Order {order_id} is still pending after {timeout} s.")
            time.sleep(min(interval, left))
            interval = min(max_interval, interval * 2)

    # --- kill switch ----------------------------------------------------------------------

    def kill_switches(self, *, active: bool | None = None) -> list[KillSwitch]:
        return self._send(_ops.kill_switches(active=active))

    def kill_switch_activate(
        self,
        *,
        scope: str,
        state: str,
        reason: str,
        target: str = "",
        cancel_working: bool = False,
    ) -> KillSwitch:
        """Halt (or only let position-reducing orders through) for the firm, an account or
        an instrument. Risk Manager and above."""
        return self._send(
            _ops.kill_switch_activate(
                scope=scope,
                state=state,
                reason=reason,
                target=target,
                cancel_working=cancel_working,
            )
        )

    def kill_switch_deactivate(self, switch_id: int, *, comment: str = "") -> KillSwitch:
        """Another Risk Manager than the one who activated it (four-eyes)."""
        return self._send(_ops.kill_switch_deactivate(switch_id, comment=comment))

    def me(self) -> dict[str, str]:
        return self._send(_ops.me())


class AsyncComplianceClient(_Base):
    """The same client for asyncio: every method is a coroutine."""

    def _open(self, transport: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    async def login(
        cls, base_url: str, username: str, password: str, *, otp: str | None = None, **options: Any
    ) -> AsyncComplianceClient:
        async with cls(base_url, **options) as anonymous:
            key = await anonymous._send(_ops.token(username, password, otp=otp))
        return cls(base_url, key, **options)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncComplianceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: _ops.Call[T]) -> T:
        if call.paged:
            return _read(call, await self._pages(call), 200)
        body, status = await self._request(call, call.path)
        return _read(call, body, status)

    async def _pages(self, call: _ops.Call[Any]) -> list[Any]:
        rows: list[Any] = []
        url: str | None = call.path
        while url:
            page, _status = await self._request(call, url)
            rows.extend(page["results"])
            url = self._next_page(page.get("next"))
            call = _ops.Call(call.method, call.path, call.parse, idempotent=True)
        return rows

    async def _request(self, call: _ops.Call[Any], url: str) -> tuple[Any, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    call.method, url, json=call.body, params=call.params
                )
            except httpx.TransportError as exc:
                if self._should_retry(call, attempt, exc, None):
                    await asyncio.sleep(self._delay(attempt))
                    continue
                raise _transport_error(exc, self.base_url) from exc
            except httpx.HTTPError as exc:  # an answer httpx cannot read (bad encoding...)
                raise ProtocolError(f"{call.method} {call.path}: {exc!r}.") from exc
            if self._should_retry(call, attempt, None, response.status_code):
                await asyncio.sleep(self._delay(attempt))
                continue
            return _parse(call, response), response.status_code

    async def submit(self, order: Order) -> Decision:
        return await self._send(_ops.submit(order))

    async def submit_basket(self, orders: Sequence[Order]) -> list[Decision]:
        return await self._send(_ops.submit_basket(orders))

    async def check(self, order: Order) -> Decision:
        return await self._send(_ops.check(order))

    async def decide(self, order: Order) -> Decision:
        try:
            return await self.submit(order)
        except ComplianceError as exc:
            return self._decision_for(order, exc)

    async def gate(self, order: Order) -> Order | AsyncPendingOrder | None:
        return self._gated(order, await self.decide(order), AsyncPendingOrder)

    async def order(self, order_id: int) -> OrderInfo:
        return await self._send(_ops.order(order_id))

    async def orders(self, **filters: Any) -> list[OrderInfo]:
        return await self._send(_ops.orders(**filters))

    async def fill(
        self,
        order_id: int,
        *,
        exec_id: str,
        quantity: Amount,
        price: Amount,
        venue: str,
        executed_at: datetime,
        liquidity: str,
        commission: Amount | None = None,
    ) -> FillResult:
        return await self._send(
            _ops.fill(
                order_id,
                exec_id=exec_id,
                quantity=quantity,
                price=price,
                venue=venue,
                executed_at=executed_at,
                liquidity=liquidity,
                commission=commission,
            )
        )

    async def cancel(self, order_id: int) -> OrderInfo:
        return await self._send(_ops.cancel(order_id))

    async def amend(
        self, order_id: int, *, quantity: Amount | None = None, limit_price: Amount | None = None
    ) -> AmendResult:
        return await self._send(_ops.amend(order_id, quantity=quantity, limit_price=limit_price))

    async def positions(
        self,
        *,
        account: str | None = None,
        instrument: str | None = None,
        nonzero: bool | None = None,
    ) -> list[Position]:
        return await self._send(
            _ops.positions(account=account, instrument=instrument, nonzero=nonzero)
        )

    async def instruments(
        self, *, symbol: str | None = None, asset_class: str | None = None
    ) -> list[Instrument]:
        return await self._send(_ops.instruments(symbol=symbol, asset_class=asset_class))

    async def approval_outcome(self, order_id: int) -> ApprovalOutcome | None:
        return ApprovalOutcome.from_order(await self.order(order_id))

    async def wait_for_approval(
        self,
        order_id: int,
        *,
        timeout: float = 300.0,
        interval: float = 0.25,
        max_interval: float = 5.0,
    ) -> ApprovalOutcome:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            outcome = await self.approval_outcome(order_id)
            if outcome is not None:
                return outcome
            left = deadline - loop.time()
            if left <= 0:
                raise WaitTimeout(f"Order {order_id} is still pending after {timeout} s.")
            await asyncio.sleep(min(interval, left))
            interval = min(max_interval, interval * 2)

    async def kill_switches(self, *, active: bool | None = None) -> list[KillSwitch]:
        return await self._send(_ops.kill_switches(active=active))

    async def kill_switch_activate(
        self,
        *,
        scope: str,
        state: str,
        reason: str,
        target: str = "",
        cancel_working: bool = False,
    ) -> KillSwitch:
        return await self._send(
            _ops.kill_switch_activate(
                scope=scope,
                state=state,
                reason=reason,
                target=target,
                cancel_working=cancel_working,
            )
        )

    async def kill_switch_deactivate(self, switch_id: int, *, comment: str = "") -> KillSwitch:
        return await self._send(_ops.kill_switch_deactivate(switch_id, comment=comment))

    async def me(self) -> dict[str, str]:
        return await self._send(_ops.me())


class PendingOrder:
    """A held order: the strategy loop keeps it and looks at it each cycle (`poll()`, one
    request, never waits), or waits for it (`wait()`)."""

    def __init__(self, *, order: Order, decision: Decision, client: ComplianceClient) -> None:
        self.order = order
        self.decision = decision
        self.outcome: ApprovalOutcome | None = None
        self._client = client

    @property
    def order_id(self) -> int:
        return int(self.decision.id or 0)

    def poll(self) -> ApprovalOutcome | None:
        """The outcome once decided, None while pending (or while the platform cannot be
        reached: a held order is never taken as approved without hearing so)."""
        if self.outcome is None:
            try:
                self.outcome = self._client.approval_outcome(self.order_id)
            except GateUnavailable:
                return None
        return self.outcome

    def wait(self, timeout: float = 300.0) -> ApprovalOutcome:
        if self.outcome is None:
            self.outcome = self._client.wait_for_approval(self.order_id, timeout=timeout)
        return self.outcome

    def released(self) -> Order | None:
        """The order once approved (it is then accepted and may go to market), else None."""
        outcome = self.poll()
        return self.order if outcome is not None and outcome.approved else None

    def __repr__(self) -> str:
        return f"<PendingOrder {self.order_id} {self.order.client_order_id}>"


class AsyncPendingOrder:
    """`PendingOrder` for the async client."""

    def __init__(self, *, order: Order, decision: Decision, client: AsyncComplianceClient) -> None:
        self.order = order
        self.decision = decision
        self.outcome: ApprovalOutcome | None = None
        self._client = client

    @property
    def order_id(self) -> int:
        return int(self.decision.id or 0)

    async def poll(self) -> ApprovalOutcome | None:
        if self.outcome is None:
            try:
                self.outcome = await self._client.approval_outcome(self.order_id)
            except GateUnavailable:
                return None
        return self.outcome

    async def wait(self, timeout: float = 300.0) -> ApprovalOutcome:
        if self.outcome is None:
            self.outcome = await self._client.wait_for_approval(self.order_id, timeout=timeout)
        return self.outcome

    async def released(self) -> Order | None:
        outcome = await self.poll()
        return self.order if outcome is not None and outcome.approved else None

    def __repr__(self) -> str:
        return f"<AsyncPendingOrder {self.order_id} {self.order.client_order_id}>"
