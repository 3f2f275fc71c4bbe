"""Locates (SEC Reg SHO 203(b)(1)): recorded by a trader, listed with what is left of them."""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.trading.models import Locate
from apps.trading.services import order_cancel, order_create, order_fill
from tests.permissions import assert_api_role_required
from tests.trading.factories import AccountFactory, InstrumentFactory

URL = "/api/v1/locates/"


def body(**overrides) -> dict:
    data = {
        "account": "ACC-T1",
        "instrument": "AAPL",
        "lender": "Prime Lending",
        "reference": "PL-20261120-7",
        "quantity": "500",
        "expires_at": (utcnow() + timedelta(hours=8)).isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def test_locates_need_their_roles(api_client_for, account, instrument):
    assert_api_role_required(api_client_for, "get", URL, Role.VIEWER)
    assert_api_role_required(api_client_for, "post", URL, Role.TRADER, body())


def test_a_trader_records_a_locate_and_the_trail_keeps_it(trader):
    response = trader.post(URL, body(), format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert {k: row[k] for k in ("account", "instrument", "lender", "reference")} == {
        "account": "ACC-T1",
        "instrument": "AAPL",
        "lender": "Prime Lending",
        "reference": "PL-20261120-7",
    }
    assert (row["quantity"], row["used_quantity"], row["remaining_quantity"]) == ("500", "0", "500")
    assert row["created_by"] == trader.user.username
    located = Locate.objects.get(pk=row["id"])
    event = AuditEvent.objects.get(event_type="LOCATE_RECORDED", object_id=str(located.pk))
    assert event.actor == trader.user.username
    assert '"lender":"Prime Lending"' in event.record and '"quantity":"500"' in event.record


def test_the_list_shows_what_the_short_sales_use(trader, account, instrument):
    located = Locate.objects.get(pk=trader.post(URL, body(), format="json").json()["id"])
    working = _short(account, instrument, "s-1", "120", located)
    done = _short(account, instrument, "s-2", "100", located)
    order_fill(
        order=done,
        exec_id="X-1",
        quantity="30",
        price="100",
        venue="XNYS",
        executed_at=utcnow(),
        liquidity="removed",
    )
    order_cancel(order=done)
    _short(account, instrument, "s-3", "400", located, status="rejected")
    rows = trader.get(URL).json()["results"]
    # 120 working + 30 filled of the canceled one; the rejected one uses nothing
    assert (rows[0]["used_quantity"], rows[0]["remaining_quantity"]) == ("150", "350")
    assert working.locate_id == located.pk


def test_the_list_filters_by_account_instrument_and_whether_in_force(trader, account, instrument):
    trader.post(URL, body(reference="A"), format="json")
    AccountFactory(code="ACC-T2")
    trader.post(URL, body(account="ACC-T2", reference="B"), format="json")
    gone = Locate.objects.get(reference="A")
    Locate.objects.filter(pk=gone.pk).update(expires_at=utcnow() - timedelta(minutes=1))
    refs = lambda query: [r["reference"] for r in trader.get(URL + query).json()["results"]]  # noqa: E731
    assert refs("?account=ACC-T2") == ["B"]
    assert refs("?instrument=AAPL&active=true") == ["B"]
    assert refs("?active=false") == ["A"]


def test_the_list_does_not_query_per_row(
    trader, account, instrument, django_assert_max_num_queries
):
    for n in range(5):
        located = Locate.objects.get(
            pk=trader.post(URL, body(reference=f"R{n}"), format="json").json()["id"]
        )
        _short(account, instrument, f"s-{n}", "10", located)
    with django_assert_max_num_queries(6):  # auth (2), count, page, the orders using them
        assert trader.get(URL).json()["count"] == 5


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-100"}, "quantity"),
        ({"quantity": 100.5}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2099-01-01T16:00:00"}, "expires_at"),  # no offset: whose 16:00?
        ({"account": "NOPE"}, "account"),
        ({"instrument": "NOPE"}, "instrument"),
        ({"lender": ""}, "lender"),
        ({"lender": None}, "lender"),
        ({"reference": "   "}, "reference"),
        ({"lender": 42}, "lender"),
    ],
)
def test_bad_input_is_400_and_stores_nothing(trader, bad, field):
    events = AuditEvent.objects.count()
    response = trader.post(URL, body(**bad), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and field in error["details"]
    assert Locate.objects.count() == 0 and AuditEvent.objects.count() == events


def test_no_locate_for_a_derivative_or_an_inactive_account(trader, account):
    InstrumentFactory(symbol="AAPL-C250", asset_class="option")
    response = trader.post(URL, body(instrument="AAPL-C250"), format="json")
    assert response.status_code == 400
    assert "borrowed" in response.json()["error"]["details"]["instrument"][0]
    AccountFactory(code="ACC-OLD", is_active=False)
    response = trader.post(URL, body(account="ACC-OLD"), format="json")
    assert response.status_code == 400 and "account" in response.json()["error"]["details"]
    assert Locate.objects.count() == 0


def _short(account, instrument, client_order_id, quantity, located, status="accepted"):
    return order_create(
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        side="sell_short",
        order_type="limit",
        quantity=Decimal(quantity),
        limit_price=Decimal("100"),
        metadata={"locate_id": located.pk},
        status=status,
    )
