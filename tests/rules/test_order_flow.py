"""The order-flow rules as a compliance officer tries them through the API: the duplicate
order that allows slicing, message limits on new orders, amendments and cancels, and the
cancel ratio's market-maker exemption."""

import pytest
from django.utils import timezone

from apps.rbac.roles import Role
from tests.rules.factories import make_rule, order_body

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def fill_all(client, order_id: int, quantity: str = "10", price: str = "100") -> None:
    response = client.post(
        f"{URL}{order_id}/fills/",
        {
            "exec_id": f"x-{order_id}",
            "quantity": quantity,
            "price": price,
            "venue": "XNYS",
            "executed_at": timezone.now().isoformat(),
            "liquidity": "removed",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["order"]["status"] == "filled"


def by_type(answer: dict, rule_type: str) -> dict:
    return next(c for c in answer["checks"] if c["rule_type"] == rule_type)


# --- duplicate orders: working ones only ------------------------------------------------------


def test_an_identical_order_while_the_first_is_working_is_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    assert trader.post(URL, order_body("p-1"), format="json").json()["status"] == "accepted"
    answer = trader.post(URL, order_body("p-2"), format="json").json()
    assert answer["status"] == "rejected"
    assert by_type(answer, "duplicate_order")["code"] == "duplicate_order"


def test_a_child_slice_after_the_previous_one_filled_is_not_a_duplicate(trader):
    """An algorithm slicing a parent order sends the next child of the same size once the
    previous one has filled: that is not a resend by mistake."""
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("slice-1"), format="json").json()
    fill_all(trader, first["id"])
    answer = trader.post(URL, order_body("slice-2"), format="json").json()
    assert answer["status"] == "accepted", answer["checks"]
    assert by_type(answer, "duplicate_order")["status"] == "pass"


def test_an_identical_order_after_the_first_was_canceled_is_not_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("c-1"), format="json").json()
    assert trader.post(f"{URL}{first['id']}/cancel/").status_code == 200
    answer = trader.post(URL, order_body("c-2"), format="json").json()
    assert answer["status"] == "accepted", answer["checks"]


def test_a_partly_filled_first_order_is_still_working_so_the_second_is_a_duplicate(trader):
    make_rule("duplicate_order", {"window_seconds": 60})
    first = trader.post(URL, order_body("pf-1"), format="json").json()
    response = trader.post(
        f"{URL}{first['id']}/fills/",
        {
            "exec_id": "pf-x",
            "quantity": "4",
            "price": "100",
            "venue": "XNYS",
            "executed_at": timezone.now().isoformat(),
            "liquidity": "removed",
        },
        format="json",
    )
    assert response.json()["order"]["status"] == "partially_filled"
    answer = trader.post(URL, order_body("pf-2"), format="json").json()
    assert answer["status"] == "rejected"
