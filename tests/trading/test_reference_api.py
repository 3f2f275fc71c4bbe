import json
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.rbac.roles import Role, ServiceRole
from apps.trading.services import order_create, order_fill
from tests.permissions import assert_api_role_required
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory


@pytest.mark.parametrize("url", ["/api/v1/accounts/", "/api/v1/instruments/", "/api/v1/positions/"])
def test_reference_endpoints_need_viewer(api_client_for, url):
    assert_api_role_required(api_client_for, "get", url, Role.VIEWER)


def test_who_am_i_answers_every_role_and_the_feed(api_client_for):
    assert APIClient().get("/api/v1/auth/me/").status_code == 401
    assert api_client_for(None).get("/api/v1/auth/me/").status_code == 403
    for role in [*Role, ServiceRole.FEED]:
        body = api_client_for(role).get("/api/v1/auth/me/").json()
        assert body["role"] == role.slug


def test_accounts_show_code_name_and_beneficial_owner(api_client_for):
    AccountFactory(code="ACC-9", name="Nine", beneficial_owner="Ms Nine")
    body = api_client_for(Role.VIEWER).get("/api/v1/accounts/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["code"] == "ACC-9" and row["name"] == "Nine" and row["beneficial_owner"] == "Ms Nine"
    assert "webhook_secret" not in row


def test_accounts_show_and_filter_by_client_category(api_client_for):
    AccountFactory(code="ACC-R")  # retail unless categorised otherwise
    AccountFactory(code="ACC-P", client_category="professional")
    client = api_client_for(Role.VIEWER)
    rows = {r["code"]: r for r in client.get("/api/v1/accounts/").json()["results"]}
    assert rows["ACC-R"]["client_category"] == "retail"
    assert rows["ACC-P"]["client_category"] == "professional"
    found = client.get("/api/v1/accounts/?client_category=professional").json()["results"]
    assert [r["code"] for r in found] == ["ACC-P"]
    response = client.get("/api/v1/accounts/?client_category=institutional")
    assert response.status_code == 400 and "error" in response.json()


def test_a_client_category_outside_the_three_is_refused(db):
    from apps.core.errors import ValidationFailed
    from apps.trading.models import Account
    from apps.trading.services import account_update

    account = AccountFactory(code="ACC-X")
    with pytest.raises(ValidationFailed) as caught:
        account_update(account=account, client_category="institutional")
    assert "client_category" in caught.value.details
    assert Account.objects.get(pk=account.pk).client_category == "retail"


def test_instruments_carry_the_latest_reference_price(
    api_client_for, django_assert_max_num_queries
):
    inst = InstrumentFactory(symbol="MSFT", isin="US5949181045", sector="Technology")
    now = timezone.now()
    ReferencePriceFactory(
        instrument=inst, price=Decimal("400"), as_of=now - timezone.timedelta(hours=1)
    )
    ReferencePriceFactory(instrument=inst, price=Decimal("410.5"), as_of=now)
    for n in range(5):
        ReferencePriceFactory(instrument=InstrumentFactory(), price=Decimal(n + 1))
    client = api_client_for(Role.VIEWER)
    with django_assert_max_num_queries(6):  # auth + count + page: no query per row
        body = client.get("/api/v1/instruments/").json()
    msft = next(r for r in body["results"] if r["symbol"] == "MSFT")
    assert msft["reference_price"] == "410.5"
    assert msft["isin"] == "US5949181045" and msft["mic"] == "XNYS"
    assert {"symbol", "isin", "mic", "currency", "sector", "asset_class", "reference_price"} <= set(
        msft
    )


def test_instruments_filter_by_sector(api_client_for):
    InstrumentFactory(symbol="XOM", sector="Energy")
    InstrumentFactory(symbol="NVDA", sector="Technology")
    body = api_client_for(Role.VIEWER).get("/api/v1/instruments/?sector=energy").json()
    assert [r["symbol"] for r in body["results"]] == ["XOM"]


def test_positions_listed_and_filtered_by_account(api_client_for, account, instrument):
    other = AccountFactory(code="ACC-T2")
    for acc, exec_id in ((account, "e1"), (other, "e2")):
        order = order_create(
            account=acc,
            instrument=instrument,
            client_order_id="c1",
            side="buy",
            order_type="limit",
            quantity="10",
            limit_price="100",
        )
        order_fill(
            order=order,
            exec_id=exec_id,
            quantity="10",
            price="99.5",
            venue="XNYS",
            executed_at=timezone.now(),
            liquidity="removed",
        )
    client = api_client_for(Role.VIEWER)
    body = client.get("/api/v1/positions/?account=ACC-T1").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["account"], row["instrument"]) == ("ACC-T1", "AAPL")
    assert (row["quantity"], row["average_cost"], row["realised_pnl"]) == ("10", "99.5", "0")


def test_unknown_api_path_has_the_error_body(api_client_for):
    response = api_client_for(Role.VIEWER).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_bad_filter_value_is_400_not_500(api_client_for):
    response = api_client_for(Role.VIEWER).get("/api/v1/instruments/?asset_class=spaceship")
    assert response.status_code == 400
    assert "asset_class" in response.json()["error"]["details"]


def test_a_client_category_change_is_audited(db, make_user):
    from apps.audit.models import AuditEvent
    from apps.trading.services import account_update

    officer = make_user(Role.COMPLIANCE_OFFICER)
    account = AccountFactory(code="ACC-CAT")
    account_update(account=account, client_category="professional", actor=officer)
    event = AuditEvent.objects.filter(event_type="CONFIG_CHANGED").order_by("seq").last()
    record = json.loads(event.record)
    assert record["actor"] == officer.username
    assert record["payload"]["before"] == {"client_category": "retail"}
    assert record["payload"]["after"] == {"client_category": "professional"}
