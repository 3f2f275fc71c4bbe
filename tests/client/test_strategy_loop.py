"""docs/examples/strategy_loop.py, run against the live server: the gate never blocks the
cycle; accepted orders go out at once, rejected never, held ones once approved."""

import importlib.util
from decimal import Decimal
from pathlib import Path

import httpx

from tests.client.conftest import order
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "strategy_loop.py"


def load_example():
    spec = importlib.util.spec_from_file_location("strategy_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_loop_sends_only_what_the_gate_lets_through(desk, client_for):
    loop = load_example()
    client = client_for("trader", on_reject=None)
    sent, pending = [], []
    ok, bad, big = order("loop-ok"), order("loop-bad", limit_price="150"), order("loop-big", "100")

    loop.run_cycle(client, [ok, bad, big], pending, sent.append)
    assert sent == [ok] and [h.order for h in pending] == [big]

    loop.run_cycle(client, [], pending, sent.append)  # nothing decided yet: nothing waits
    assert sent == [ok] and len(pending) == 1

    response = httpx.post(
        f"{desk.url}/api/v1/approvals/{pending[0].decision.approval.id}/approve/",
        json={"comment": "Approved for the example."},
        headers={"Authorization": f"Token {desk.tokens['officer']}"},
        timeout=10,
    )
    assert response.status_code == 200
    loop.run_cycle(client, [], pending, sent.append)
    assert sent == [ok, big] and pending == []


def test_the_example_signals_price_at_the_reference(desk, client_for):
    AccountFactory(code="ACC-001")
    pair = InstrumentFactory(symbol="BTC-USD", mic="XOFF", asset_class="crypto")
    ReferencePriceFactory(instrument=pair, price=Decimal("64123.456"))
    [signal] = load_example().signals(client_for("trader"), 0)
    assert (signal.account, signal.instrument, signal.quantity) == (
        "ACC-001",
        "BTC-USD",
        Decimal("0.01"),
    )
    assert signal.limit_price == Decimal("64123.46")
