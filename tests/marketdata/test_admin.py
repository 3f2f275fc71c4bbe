"""The tape in the back office: Risk Managers and above read it; nobody edits it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.marketdata.models import MarketTrade
from apps.rbac.roles import Role
from tests.permissions import assert_page_role_required


@pytest.mark.parametrize(
    "url", ["/admin/marketdata/markettrade/", "/admin/marketdata/marketquote/"]
)
def test_the_tape_pages_need_a_risk_manager(client, make_user, url):
    assert_page_role_required(client, make_user, url, Role.RISK_MANAGER)


def test_nobody_adds_or_edits_a_print(client, make_user, instrument):
    trade = MarketTrade.objects.create(
        instrument=instrument,
        executed_at=datetime(2025, 11, 20, 20, 0, tzinfo=UTC),
        price=Decimal("189.5"),
        quantity=Decimal("100"),
        venue="XNAS",
    )
    client.force_login(make_user(Role.ADMIN))
    assert client.get("/admin/marketdata/markettrade/add/").status_code == 403
    page = client.get(f"/admin/marketdata/markettrade/{trade.pk}/change/")
    assert page.status_code == 200 and b'name="price"' not in page.content
    response = client.post(f"/admin/marketdata/markettrade/{trade.pk}/change/", {"price": "1"})
    assert response.status_code == 403
    trade.refresh_from_db()
    assert trade.price == Decimal("189.5")
