"""An owner's customer record for the blue sheets: personal data, Compliance Officers only,
audited by field name, never by value."""

import json

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.trading.models import CustomerRecord
from apps.trading.services import beneficial_owner_create, customer_record_set
from tests.permissions import assert_page_role_required

pytestmark = pytest.mark.django_db


def test_a_record_change_is_audited_without_the_values(make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    owner = beneficial_owner_create(name="Priya Raman")
    record = customer_record_set(
        owner=owner,
        actor=officer,
        street="12 Elm Street",
        city="Boston",
        state="ma",
        postal_code="02108",
        country="us",
        tax_id="987-65-4321",
        tax_id_kind="SSN",
    )
    assert (record.state, record.country) == ("MA", "US")
    customer_record_set(owner=owner, actor=officer, street="14 Elm Street")
    rows = AuditEvent.objects.filter(object_type="trading.customerrecord").order_by("seq")
    events = [json.loads(row.record)["payload"] for row in rows]
    assert [e["change"] for e in events] == ["identity_created", "identity_updated"]
    assert events[1]["fields"] == ["street"]
    trail = "".join(row.record for row in rows)
    for value in ("Elm", "987-65-4321", "02108", "Boston"):
        assert value not in trail
    assert CustomerRecord.objects.get(owner=owner).street == "14 Elm Street"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tax_id": "987654321"}, "tax_id_kind"),
        ({"country": "USA"}, "country"),
        ({"tax_id": "98;7", "tax_id_kind": "SSN"}, "tax_id"),
    ],
)
def test_a_bad_record_stores_nothing(make_user, changes, field):
    owner = beneficial_owner_create(name="Priya Raman")
    with pytest.raises(Exception) as refused:
        customer_record_set(owner=owner, actor=make_user(Role.COMPLIANCE_OFFICER), **changes)
    assert refused.value.status_code == 400
    assert field in refused.value.details
    assert not CustomerRecord.objects.exists()
    assert not AuditEvent.objects.filter(object_type="trading.customerrecord").exists()


def test_the_records_are_for_compliance_officers_only(client, make_user):
    assert_page_role_required(
        client, make_user, "/admin/trading/customerrecord/", Role.COMPLIANCE_OFFICER
    )


def test_a_compliance_officer_records_one_in_the_admin(client, make_user):
    owner = beneficial_owner_create(name="Priya Raman")
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    response = client.post(
        "/admin/trading/customerrecord/add/",
        {
            "owner": owner.pk,
            "legal_name": "Priya Raman",
            "street": "12 Elm Street",
            "city": "Boston",
            "state": "MA",
            "postal_code": "02108",
            "country": "US",
            "tax_id": "987-65-4321",
            "tax_id_kind": "SSN",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CustomerRecord.objects.get(owner=owner).tax_id == "987-65-4321"
    assert AuditEvent.objects.filter(object_type="trading.customerrecord").count() == 1
