"""Baskets from the client and the command line, against the live server: typed decisions in
order, a lost answer retried without a second order, errors naming the order, and
`compliance-cli basket` reading CSV and JSON files."""

import asyncio
import io
import json

import pytest
from compliance_client import AsyncComplianceClient, BadRequest, ComplianceClient
from compliance_client.cli import main, read_basket
from compliance_client.errors import IdempotencyConflict

from apps.trading.models import Order as OrderRow
from tests.client.conftest import order


def test_a_basket_comes_back_as_typed_decisions_in_order(client_for):
    client = client_for("trader")
    decisions = client.submit_basket(
        [order("bk-1"), order("bk-2", limit_price="150"), order("bk-3", quantity="100")]
    )
    assert [d.client_order_id for d in decisions] == ["bk-1", "bk-2", "bk-3"]
    assert [d.status for d in decisions] == ["accepted", "rejected", "pending_approval"]
    assert decisions[1].reason == "price_outside_collar"
    assert decisions[2].approval is not None
    assert not any(d.replayed for d in decisions)
    rows = {
        r.client_order_id: r.pk
        for r in OrderRow.objects.filter(client_order_id__in=["bk-1", "bk-2", "bk-3"])
    }
    assert [d.id for d in decisions] == [rows["bk-1"], rows["bk-2"], rows["bk-3"]]


def test_the_same_basket_again_is_the_same_answer(client_for):
    client = client_for("trader")
    basket = [order("again-1"), order("again-2", quantity="5")]
    first, second = client.submit_basket(basket), client.submit_basket(basket)
    assert all(d.replayed for d in second) and not any(d.replayed for d in first)
    assert [d.id for d in second] == [d.id for d in first]
    assert OrderRow.objects.filter(client_order_id__startswith="again-").count() == 2


def test_a_basket_whose_answer_was_lost_is_retried_and_stores_each_order_once(desk, dropping_proxy):
    with ComplianceClient(dropping_proxy.url, desk.tokens["trader"], timeout=10) as client:
        decisions = client.submit_basket([order("lostb-1"), order("lostb-2", quantity="3")])
    assert dropping_proxy.dropped == 1 and dropping_proxy.connections == 2
    assert all(d.accepted and d.replayed for d in decisions)
    assert OrderRow.objects.filter(client_order_id__startswith="lostb-").count() == 2


def test_errors_name_the_order_and_nothing_is_stored(client_for):
    client = client_for("trader")
    with pytest.raises(BadRequest) as caught:
        client.submit_basket([order("e-ok"), order("e-bad", limit_price="100", metadata=[])])
    assert set(caught.value.details) == {"orders[1].metadata"}
    client.submit(order("taken-1"))
    with pytest.raises(IdempotencyConflict) as conflict:
        client.submit_basket([order("e-new"), order("taken-1", quantity="7")])
    assert conflict.value.details["index"] == 1
    assert not OrderRow.objects.filter(client_order_id__in=["e-ok", "e-new"]).exists()


def test_an_empty_basket_or_an_id_twice_never_leaves_the_client():
    with ComplianceClient("http://127.0.0.1:9", "token") as client:
        with pytest.raises(ValueError):
            client.submit_basket([])
        with pytest.raises(ValueError, match=r"orders\[1\]"):
            client.submit_basket([order("dup"), order("dup", quantity="2")])


def test_the_async_client_sends_baskets_too(desk):
    async def run():
        async with AsyncComplianceClient(desk.url, desk.tokens["trader"], timeout=10) as client:
            return await client.submit_basket([order("as-1"), order("as-2", quantity="2")])

    decisions = asyncio.run(run())
    assert [d.status for d in decisions] == ["accepted", "accepted"]


# --- compliance-cli basket --------------------------------------------------------------------


def cli(desk, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--url", desk.url, f"--token={desk.tokens['trader']}", *args], stdout=out)
    return code, out.getvalue()


CSV = """client_order_id,account,instrument,side,quantity,limit_price,meta.strategy
csv-1,ACC-T1,AAPL,buy,10,100,rebalance
csv-2,ACC-T1,AAPL,buy,10,150,rebalance
csv-3,ACC-T1,AAPL,sell,5,100,
"""


def test_cli_sends_a_csv_file_as_one_basket(desk, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    code, out = cli(desk, "basket", str(path))
    assert code == 3  # one order rejected
    lines = out.splitlines()
    assert lines[0].split() == ["#", "ORDER", "CLIENT", "ORDER", "ID", "STATUS", "REASON", "NOTE"]
    assert lines[1].split()[2:4] == ["csv-1", "ACCEPTED"]
    assert lines[2].split()[2:5] == ["csv-2", "REJECTED", "price_outside_collar"]
    assert lines[-1] == "3 orders: 2 accepted, 1 rejected"
    assert OrderRow.objects.get(client_order_id="csv-1").metadata == {"strategy": "rebalance"}
    # run again: the same decisions, marked as repeats, nothing stored twice
    code, out = cli(desk, "basket", str(path))
    assert code == 3 and out.count("repeat") == 3
    assert OrderRow.objects.filter(client_order_id__startswith="csv-").count() == 3


def test_cli_sends_a_json_file_and_answers_json(desk, tmp_path):
    path = tmp_path / "orders.json"
    body = {
        "orders": [
            {"client_order_id": "js-1", "account": "ACC-T1", "instrument": "AAPL",
             "side": "buy", "quantity": "10", "limit_price": "100"},
            {"client_order_id": "js-2", "account": "ACC-T1", "instrument": "AAPL",
             "side": "buy", "quantity": "100", "limit_price": "100",
             "metadata": {"signal_id": "s-2"}},
        ]
    }  # fmt: skip
    path.write_text(json.dumps(body))
    code, out = cli(desk, "--json", "basket", str(path))
    assert code == 4  # one held, none rejected
    answer = json.loads(out)
    assert [d["status"] for d in answer] == ["accepted", "pending_approval"]
    assert answer[1]["approval"]["id"] is not None


def test_cli_refuses_a_file_that_cannot_be_a_basket(desk, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("account,instrument,side,quantity,colour\nACC-T1,AAPL,buy,1,red\n")
    assert cli(desk, "basket", str(path))[0] == 2
    assert cli(desk, "basket", str(tmp_path / "missing.csv"))[0] == 2
    assert not OrderRow.objects.exists()
    # the platform's 400 names the order; the CLI says so and exits 1
    path.write_text("account,instrument,side,quantity\nACC-T1,AAPL,buy,1\nACC-T1,AAPL,buy,-1\n")
    code, out = cli(desk, "--json", "basket", str(path))
    assert code == 1
    assert list(json.loads(out)["error"]["details"]) == ["orders[1].quantity"]


def test_read_basket_takes_a_list_or_an_object_and_names_bad_rows():
    one = {"account": "A", "instrument": "X", "side": "buy", "quantity": "1"}
    assert len(read_basket(json.dumps([one, one]))) == 2
    assert read_basket(json.dumps({"orders": [one]}))[0].order_type == "market"
    with pytest.raises(ValueError, match=r"orders\[1\]: quantity required"):
        read_basket(json.dumps([one, {**one, "quantity": ""}]))
    with pytest.raises(ValueError, match="no orders"):
        read_basket("account,instrument,side,quantity\n")
