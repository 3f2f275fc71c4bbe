"""The SDK against the live server: decisions as typed values, errors as typed exceptions."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from compliance_client import (
    AsyncComplianceClient,
    AuthenticationFailed,
    BadRequest,
    ComplianceClient,
    Conflict,
    Decision,
    IdempotencyConflict,
    NotFound,
    Order,
    PendingOrder,
    PermissionDenied,
)

from apps.trading.models import Order as OrderRow
from tests.client.conftest import PASSWORD, order


def test_an_accepted_order_comes_back_as_a_typed_decision(client_for):
    decision = client_for("trader").submit(order("acc-1"))
    assert isinstance(decision, Decision)
    assert decision.accepted and not decision.replayed and not decision.local
    assert decision.client_order_id == "acc-1" and isinstance(decision.id, int)
    collar = next(c for c in decision.checks if c.rule == "PX-COLLAR-1")
    assert (collar.rule_type, collar.status, collar.code) == ("price_collar", "pass", "ok")
    assert collar.threshold == "5" and collar.regulation
    assert decision.reason is None and decision.approval is None


def test_a_rejected_order_says_which_rule_and_why(client_for):
    decision = client_for("trader").submit(order("rej-1", limit_price="150"))
    assert decision.rejected
    [failed] = decision.failed_checks
    assert failed.rule == "PX-COLLAR-1" and failed.code == "price_outside_collar"
    assert decision.reason == "price_outside_collar"
    assert decision.message == failed.message
    assert OrderRow.objects.get(pk=decision.id).status == "rejected"


def test_the_gate_returns_the_order_none_or_a_pending_handle(client_for):
    client = client_for("trader", on_reject=None)
    accepted = order("gate-ok")
    assert client.gate(accepted) is accepted
    assert client.gate(order("gate-rej", limit_price="150")) is None
    held = client.gate(order("gate-held", quantity="100"))
    assert isinstance(held, PendingOrder)
    assert held.decision.pending and held.decision.approval.expires_at.tzinfo is not None
    assert held.poll() is None  # one look, nothing decided yet: the loop carries on
    assert held.released() is None


def test_gate_hands_each_rejection_to_on_reject(client_for):
    seen = []
    client = client_for("trader", on_reject=lambda o, d: seen.append((o.client_order_id, d)))
    assert client.gate(order("hook-1", limit_price="150")) is None
    [(cid, decision)] = seen
    assert cid == "hook-1" and decision.reason == "price_outside_collar"


def test_the_dry_run_stores_nothing(client_for):
    decision = client_for("trader").check(order("dry-1", limit_price="150"))
    assert decision.rejected and decision.id is None
    assert not OrderRow.objects.filter(client_order_id="dry-1").exists()


def test_the_same_order_sent_twice_is_one_order(client_for):
    client = client_for("trader")
    same = order("twice-1")
    first, second = client.submit(same), client.submit(same)
    assert second.replayed and not first.replayed and second.id == first.id
    assert OrderRow.objects.filter(client_order_id="twice-1").count() == 1


def test_a_reused_client_order_id_is_a_typed_conflict(client_for):
    client = client_for("trader")
    client.submit(order("reuse-1"))
    with pytest.raises(IdempotencyConflict) as caught:
        client.submit(order("reuse-1", quantity="11"))
    assert caught.value.status == 409 and caught.value.code == "client_order_id_reused"
    # decide() fails closed with the platform's code as the reason
    decision = client.decide(order("reuse-1", quantity="12"))
    assert decision.rejected and decision.local and decision.reason == "client_order_id_reused"


def test_bad_input_is_a_typed_error_with_the_error_body(client_for):
    client = client_for("trader")
    with pytest.raises(BadRequest) as caught:
        client.submit(Order("NO-SUCH", "AAPL", "buy", "1", "100"))
    assert caught.value.code == "validation_error"
    assert caught.value.details == {"account": ["Unknown account."]}


def test_floats_never_leave_the_client():
    with pytest.raises(TypeError):
        Order("ACC-T1", "AAPL", "buy", 1.5, "100")
    with pytest.raises(ValueError):
        Order("ACC-T1", "AAPL", "hold", "1", "100")
    assert Order("ACC-T1", "AAPL", "buy", 10).to_json()["order_type"] == "market"
    assert Order("A", "B", "sell", Decimal("1E+2"), "1.50").to_json()["quantity"] == "100"


def test_auth_and_role_errors_are_typed(desk, client_for):
    with (
        ComplianceClient(desk.url, "not-a-token") as anonymous,
        pytest.raises(AuthenticationFailed) as caught,
    ):
        anonymous.positions()
    assert caught.value.status == 401
    with pytest.raises(PermissionDenied) as caught:
        client_for("viewer").submit(order("viewer-1"))
    assert caught.value.code == "permission_denied"
    with pytest.raises(PermissionDenied):
        client_for("trader").kill_switch_activate(scope="firm", state="halted", reason="x")
    with pytest.raises(NotFound) as caught:
        client_for("trader").order(999999)
    assert caught.value.code == "order_not_found"


def test_login_gets_a_token(desk):
    with ComplianceClient.login(desk.url, "trader", PASSWORD) as client:
        assert client.me() == {"username": "trader", "role": "trader"}
    with pytest.raises(AuthenticationFailed) as caught:
        ComplianceClient.login(desk.url, "trader", "wrong-password")
    assert caught.value.code == "invalid_credentials"


def test_login_with_a_second_factor(desk, settings):
    from django.contrib.auth import get_user_model
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.MFA_REQUIRED_ROLES = ["compliance"]
    device = TOTPDevice.objects.create(
        user=get_user_model().objects.get(username="officer"), name="phone", confirmed=True
    )
    with pytest.raises(AuthenticationFailed) as caught:
        ComplianceClient.login(desk.url, "officer", PASSWORD)
    assert caught.value.code == "otp_required"
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    with ComplianceClient.login(desk.url, "officer", PASSWORD, otp=code) as client:
        assert client.me()["role"] == "compliance_officer"


def test_fill_amend_cancel_and_positions(client_for):
    client = client_for("trader")
    placed = client.submit(order("life-1"))
    execution = {
        "exec_id": "ex-1",
        "quantity": "4",
        "price": "99.75",  # at or below its limit of 100
        "venue": "XNYS",
        "executed_at": datetime.now(UTC),
        "liquidity": "removed",
    }
    filled = client.fill(placed.id, **execution)
    assert filled.order.status == "partially_filled"
    assert filled.order.filled_quantity == Decimal("4")
    assert filled.position.quantity == Decimal("4")
    with pytest.raises(Conflict) as caught:  # the same execution reported twice
        client.fill(placed.id, **execution)
    assert caught.value.code == "duplicate_exec_id"

    amended = client.amend(placed.id, limit_price="101")
    assert amended.amended and amended.order.limit_price == Decimal("101")
    refused = client.amend(placed.id, limit_price="150")  # outside the collar: unchanged
    assert not refused.amended and refused.decision == "rejected"
    assert refused.order.limit_price == Decimal("101")

    canceled = client.cancel(placed.id)
    assert canceled.status == "canceled"
    with pytest.raises(Conflict) as caught:
        client.cancel(placed.id)
    assert caught.value.code == "order_not_cancelable"

    [position] = client.positions(account="ACC-T1")
    assert (position.instrument, position.quantity) == ("AAPL", Decimal("4"))
    assert client.orders(account="ACC-T1", status="canceled")[0].id == placed.id


def test_kill_switch_halts_and_four_eyes_releases(client_for):
    risk, trader = client_for("risk"), client_for("trader", on_reject=None)
    switch = risk.kill_switch_activate(
        scope="account", target="ACC-T1", state="halted", reason="Runaway strategy."
    )
    assert switch.is_active and switch.activated_by == "risk"
    assert [k.id for k in trader.kill_switches(active=True)] == [switch.id]
    decision = trader.decide(order("halted-1"))
    assert decision.rejected and not decision.local
    assert decision.failed_checks[0].rule == "KILL-SWITCH"
    with pytest.raises(PermissionDenied) as caught:
        risk.kill_switch_deactivate(switch.id, comment="Fixed.")
    assert caught.value.code == "four_eyes_required"
    released = client_for("risk2").kill_switch_deactivate(switch.id, comment="Fixed.")
    assert not released.is_active
    assert trader.gate(order("halted-2")) is not None


def test_the_async_client_does_the_same(desk):
    async def run():
        async with AsyncComplianceClient(desk.url, desk.tokens["trader"], timeout=10) as client:
            accepted = await client.submit(order("async-1"))
            again = await client.submit(order("async-1"))
            rejected = await client.gate(order("async-2", limit_price="150"))
            held = await client.gate(order("async-3", quantity="100"))
            return accepted, again, rejected, held, await held.poll()

    accepted, again, rejected, held, outcome = asyncio.run(run())
    assert accepted.accepted and again.replayed and again.id == accepted.id
    assert rejected is None
    assert held.decision.pending and outcome is None


def test_an_answer_that_is_not_the_platforms_is_a_protocol_error():
    # What sits in front of a gate that is down (a captive portal, a proxy's page), in process.
    answers = iter(
        [
            httpx.Response(200, text="<html>captive portal</html>"),
            httpx.Response(201, json=["not", "a", "decision"]),
            httpx.Response(201, json={"status": "accepted", "checks": "?", "id": "x"}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    client = ComplianceClient("http://gate.test", "t", transport=transport)
    # A body that says "accepted" is taken at its word only in the platform's shape.
    for n in range(3):
        decision = client.decide(order(f"proto-{n}"))
        assert decision.rejected and decision.local and decision.reason == "bad_response"


def test_lists_follow_the_pages_on_the_clients_own_base_url(desk, client_for, monkeypatch):
    from compliance_client import _ops

    from tests.trading.factories import InstrumentFactory

    InstrumentFactory.create_batch(4)
    monkeypatch.setattr(_ops, "PAGE_SIZE", 2)  # 5 instruments: three pages
    symbols = [i.symbol for i in client_for("viewer").instruments()]
    assert len(symbols) == 5 and len(set(symbols)) == 5 and "AAPL" in symbols
    [aapl] = client_for("viewer").instruments(symbol="AAPL")
    assert aapl.reference_price == Decimal("100") and aapl.reference_price_as_of.tzinfo
