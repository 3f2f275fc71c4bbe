"""Good-till-date orders through the client and compliance-cli: the client refuses what the
platform would refuse before sending it, and reads back every order's expiry."""

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from compliance_client import Order
from compliance_client.cli import main

from apps.trading.models import Order as OrderRow
from tests.client.conftest import order

ORDER = ["--account", "ACC-T1", "--instrument", "AAPL", "--side", "buy", "--quantity", "10"]


def test_a_gtd_order_needs_an_aware_expiry_and_no_other_takes_one():
    with pytest.raises(ValueError, match="gtd order needs"):
        Order("ACC-T1", "AAPL", "buy", "10", "100", time_in_force="gtd")
    with pytest.raises(ValueError, match="gtd order needs"):
        Order(
            "ACC-T1", "AAPL", "buy", "10", "100", time_in_force="gtd",
            expire_at=datetime(2030, 1, 2, 21, 0),
        )  # fmt: skip
    with pytest.raises(ValueError, match="only a gtd order"):
        Order("ACC-T1", "AAPL", "buy", "10", "100", expire_at=datetime(2030, 1, 2, tzinfo=UTC))
    new_york = timezone(timedelta(hours=-5))
    gtd = Order(
        "ACC-T1", "AAPL", "buy", "10", "100", time_in_force="gtd",
        expire_at=datetime(2030, 1, 2, 16, 0, tzinfo=new_york),
    )  # fmt: skip
    assert gtd.to_json()["expire_at"] == "2030-01-02T21:00:00Z"
    assert "expire_at" not in Order("ACC-T1", "AAPL", "buy", "10", "100").to_json()


def test_the_platform_keeps_the_expiry_and_says_it_back(client_for):
    client = client_for("trader")
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    decision = client.submit(order("gtd-c1", time_in_force="gtd", expire_at=when))
    assert decision.accepted
    assert client.order(decision.id).expire_at == when
    day = client.submit(order("day-c1"))
    assert client.order(day.id).expire_at == OrderRow.objects.get(pk=day.id).expire_at


def test_the_cli_sends_a_gtd_order(desk):
    out = io.StringIO()
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    code = main(
        [
            "--url", desk.url, f"--token={desk.tokens['trader']}", "submit", *ORDER,
            "--limit-price", "100", "--client-order-id", "cli-gtd", "--time-in-force", "gtd",
            "--expire-at", when.isoformat().replace("+00:00", "Z"),
        ],
        stdout=out,
    )  # fmt: skip
    assert code == 0, out.getvalue()
    assert OrderRow.objects.get(client_order_id="cli-gtd").expire_at == when
