"""What trading keeps for MiFIR: an off-venue fill's counterparty, accounts' trading capacity,
and natural persons' identities as personal data (Compliance Officer and above only)."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.time import rfc3339, utcnow
from apps.rbac.models import StaffIdentity
from apps.rbac.roles import Role
from apps.rbac.services import staff_identity_set
from apps.trading.models import ClientPerson, Fill, Order
from apps.trading.services import beneficial_owner_create, client_person_set, order_create
from tests.permissions import assert_page_role_required
from tests.trading.factories import AccountFactory

pytestmark = pytest.mark.django_db
DEALER = "549300XOFFDEALER0028"


@pytest.fixture
def order(account, instrument) -> Order:
    placed = order_create(
        account=account,
        instrument=instrument,
        client_order_id="otc-1",
        side="buy",
        order_type="limit",
        quantity="10",
        limit_price="100",
    )
    Order.objects.filter(pk=placed.pk).update(created_at=utcnow() - timedelta(minutes=1))
    return placed


def post_fill(client, order, **overrides):
    body = {
        "exec_id": "OTC-1",
        "quantity": "10",
        "price": "100",
        "venue": "XOFF",
        "executed_at": rfc3339(utcnow() - timedelta(seconds=5)),
        "liquidity": "removed",
        **overrides,
    }
    return client.post(f"/api/v1/orders/{order.pk}/fills/", body, format="json")


def test_an_off_venue_fill_of_a_reportable_instrument_names_its_counterparty(api_client_for, order):
    desk = api_client_for(Role.RISK_MANAGER)
    missing = post_fill(desk, order)
    assert missing.status_code == 400
    assert "counterparty_lei" in missing.json()["error"]["details"]
    wrong = post_fill(desk, order, counterparty_lei="549300XOFFDEALER0029")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["counterparty_lei"] == [
        "549300XOFFDEALER0029 is not a valid LEI (ISO 17442)."
    ]
    assert not Fill.objects.exists()
    booked = post_fill(desk, order, counterparty_lei=DEALER)
    assert booked.status_code == 201, booked.json()
    assert Fill.objects.get().counterparty_lei == DEALER
    filled = AuditEvent.objects.get(event_type="ORDER_FILLED")
    assert json.loads(filled.record)["payload"]["fill"]["counterparty_lei"] == DEALER


def test_a_venue_fill_needs_no_counterparty(api_client_for, order):
    booked = post_fill(api_client_for(Role.RISK_MANAGER), order, venue="XNAS")
    assert booked.status_code == 201, booked.json()
    assert Fill.objects.get().counterparty_lei == ""


def test_the_account_api_shows_the_capacity_and_no_personal_data(api_client_for, db):
    owner = beneficial_owner_create(name="Amelia Chen")
    client_person_set(
        owner=owner,
        first_names="Amelia",
        surnames="Chen",
        birth_date=date(1985, 7, 23),
        nationality="GB",
        national_id="QQ123456C",
        national_id_kind="NIDN",
    )
    AccountFactory(code="ACC-003", beneficial_owner=owner, trading_capacity="AOTC")
    response = api_client_for(Role.RISK_MANAGER).get("/api/v1/accounts/")
    body = response.json()
    [row] = body["results"] if isinstance(body, dict) else body
    assert row["trading_capacity"] == "AOTC"
    assert "QQ123456C" not in response.content.decode()
    assert "1985-07-23" not in response.content.decode()


def test_an_identity_change_is_audited_without_the_personal_data(db, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    owner = beneficial_owner_create(name="Lucas Moreau")
    person = client_person_set(
        owner=owner,
        actor=officer,
        first_names="Lucas",
        surnames="Moreau",
        birth_date=date(1979, 11, 30),
        nationality="fr",
    )
    assert person.nationality == "FR"
    client_person_set(owner=owner, actor=officer, surnames="Moreau-Blanc")
    rows = AuditEvent.objects.filter(object_type="trading.clientperson").order_by("seq")
    events = [json.loads(row.record)["payload"] for row in rows]
    assert [e["change"] for e in events] == ["identity_created", "identity_updated"]
    assert events[1]["fields"] == ["surnames"]
    assert "Moreau" not in "".join(row.record for row in rows)
    assert "1979" not in "".join(row.record for row in rows)
    assert ClientPerson.objects.get(owner=owner).surnames == "Moreau-Blanc"


def test_a_bad_identity_stores_nothing(db, make_user):
    user = make_user(Role.TRADER)
    with pytest.raises(Exception) as refused:
        staff_identity_set(user=user, nationality="Britain", first_names="Sam")
    assert refused.value.status_code == 400
    assert "nationality" in refused.value.details
    assert not StaffIdentity.objects.exists()
    assert not AuditEvent.objects.filter(object_type="rbac.staffidentity").exists()


@pytest.mark.parametrize("url", ["/admin/trading/clientperson/", "/admin/rbac/staffidentity/"])
def test_identities_are_for_compliance_officers_only(client, make_user, url):
    assert_page_role_required(client, make_user, url, Role.COMPLIANCE_OFFICER)


def test_a_compliance_officer_records_a_staff_identity_in_the_admin(client, make_user):
    trader = make_user(Role.TRADER)
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    response = client.post(
        "/admin/rbac/staffidentity/add/",
        {
            "user": trader.pk,
            "first_names": "Sam",
            "surnames": "Carter",
            "birth_date": "1990-04-12",
            "nationality": "GB",
            "national_id": "QQ654321A",
            "national_id_kind": "NIDN",
            "branch_country": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    identity = StaffIdentity.objects.get(user=trader)
    assert (identity.national_id, identity.birth_date) == ("QQ654321A", date(1990, 4, 12))
    [event] = AuditEvent.objects.filter(object_type="rbac.staffidentity")
    assert json.loads(event.record)["payload"]["change"] == "identity_created"
    assert "QQ654321A" not in event.record


def test_a_risk_manager_cannot_record_one(client, make_user):
    trader = make_user(Role.TRADER)
    client.force_login(make_user(Role.RISK_MANAGER))
    response = client.post(
        "/admin/rbac/staffidentity/add/", {"user": trader.pk, "nationality": "GB"}
    )
    assert response.status_code == 403
    assert not StaffIdentity.objects.exists()


def test_instruments_are_out_of_scope_unless_marked(db):
    from apps.trading.services import instrument_create

    made = instrument_create(
        symbol="NEW",
        isin="US0378331005",
        mic="XNAS",
        name="New Inc.",
        asset_class="equity",
        sector="Technology",
        currency="USD",
        lot_size=Decimal("1"),
    )
    assert made.mifir_reportable is False
