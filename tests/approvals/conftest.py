import pytest

from apps.rbac.roles import Role
from tests.rules.factories import make_rule

ORDERS = "/api/v1/orders/"


def order_body(client_order_id: str = "held-1", **overrides) -> dict:
    """A limit order of notional 1000 on ACC-T1: above the hold rule's 500."""
    body = {
        "client_order_id": client_order_id,
        "account": "ACC-T1",
        "instrument": "AAPL",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "limit_price": "100",
        "metadata": {"signal_id": "s1"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def hold_rule(db, account, instrument):
    return make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 300}, action="hold")


@pytest.fixture
def trader(api_client_for, hold_rule):
    return api_client_for(Role.TRADER)


@pytest.fixture
def officer(api_client_for):
    return api_client_for(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def submit_held(trader):
    """submit_held("cid") -> the gate's answer for a held order (submitted by `trader`)."""

    def submit(client_order_id: str = "held-1", client=None, **overrides) -> dict:
        response = (client or trader).post(
            ORDERS, order_body(client_order_id, **overrides), format="json"
        )
        assert response.status_code == 201, response.json()
        answer = response.json()
        assert answer["status"] == "pending_approval", answer
        return answer

    return submit
