"""Failing closed and retrying safely, over real sockets: a dropped answer, a closed port, a
server that accepts and never answers."""

import asyncio

import pytest
from compliance_client import (
    AsyncComplianceClient,
    ComplianceClient,
    GateTimeout,
    GateUnavailable,
)

from apps.trading.models import Order as OrderRow
from tests.client.conftest import order
from tests.notifications.conftest import free_port


def test_a_submit_whose_answer_was_lost_is_retried_and_stays_one_order(desk, dropping_proxy):
    with ComplianceClient(dropping_proxy.url, desk.tokens["trader"], timeout=10) as client:
        decision = client.submit(order("lost-1"))
    # The first answer was lost after the server stored the order; the retry, with the same
    # client_order_id, got the first answer back (200, "replayed").
    assert dropping_proxy.dropped == 1 and dropping_proxy.connections == 2
    assert decision.accepted and decision.replayed
    [row] = OrderRow.objects.filter(client_order_id="lost-1")
    assert row.pk == decision.id


def test_a_cancel_whose_answer_was_lost_is_not_sent_again(desk, client_for, dropping_proxy):
    placed = client_for("trader").submit(order("nocancel-retry"))
    with (
        ComplianceClient(dropping_proxy.url, desk.tokens["trader"], timeout=10) as client,
        pytest.raises(GateUnavailable),
    ):
        client.cancel(placed.id)
    assert dropping_proxy.connections == 1  # not retried: the caller decides
    assert OrderRow.objects.get(pk=placed.id).status == "canceled"


def test_a_closed_port_is_a_coded_rejection(desk):
    url = f"http://127.0.0.1:{free_port()}"
    with ComplianceClient(url, desk.tokens["trader"], timeout=1, on_reject=None) as client:
        held_back = order("closed-1")
        assert client.gate(held_back) is None
        decision = client.decide(held_back)
    assert decision.rejected and decision.local
    assert decision.reason == "gate_unreachable"
    [check] = decision.checks
    assert (check.rule, check.status, check.code) == (
        "CLIENT-FAIL-CLOSED",
        "fail",
        "gate_unreachable",
    )
    assert decision.client_order_id == "closed-1"


def test_a_gate_that_never_answers_is_a_timeout_rejection(desk, silent_server):
    rejections = []
    with ComplianceClient(
        silent_server.url,
        desk.tokens["trader"],
        timeout=0.3,
        retries=1,
        on_reject=lambda o, d: rejections.append(d),
    ) as client:
        assert client.gate(order("silent-1")) is None
    [decision] = rejections
    assert decision.rejected and decision.local and decision.reason == "gate_timeout"
    assert len(silent_server.accepted) == 2  # a submit is retried once, with the same id


def test_fail_closed_can_raise_instead_but_never_accept(desk, silent_server):
    with (
        ComplianceClient(
            silent_server.url, desk.tokens["trader"], timeout=0.2, retries=0, on_unavailable="raise"
        ) as client,
        pytest.raises(GateTimeout) as caught,
    ):
        client.gate(order("raise-1"))
    assert caught.value.code == "gate_timeout"
    with pytest.raises(ValueError):
        ComplianceClient(silent_server.url, "t", on_unavailable="accept")


def test_the_async_gate_fails_closed_too(desk, silent_server):
    closed = f"http://127.0.0.1:{free_port()}"

    async def run():
        results = []
        for url in (closed, silent_server.url):
            async with AsyncComplianceClient(
                url, desk.tokens["trader"], timeout=0.2, retries=0, on_reject=None
            ) as client:
                results.append(
                    (await client.gate(order("async-fc")), await client.decide(order("async-fc")))
                )
        return results

    [(gated_closed, closed_decision), (gated_silent, silent_decision)] = asyncio.run(run())
    assert gated_closed is None and closed_decision.reason == "gate_unreachable"
    assert gated_silent is None and silent_decision.reason == "gate_timeout"
