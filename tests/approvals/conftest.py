import pytest

from apps.rbac.roles import Role
from tests.rules.factories import make_rule, order_body

ORDERS = "/api/v1/orders/"


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
        # order_body's notional 1000 is above the hold rule's 500
        response = (client or trader).post(
            ORDERS, order_body(client_order_id, **overrides), format="json"
        )
        assert response.status_code == 201, response.json()
        answer = response.json()
        assert answer["status"] == "pending_approval", answer
        return answer

    return submit
