"""The back office: each role sees and changes only what the policy allows it."""

import pytest

from apps.rbac.access import user_role
from apps.rbac.roles import Role
from tests.conftest import PASSWORD
from tests.permissions import assert_page_role_required


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/admin/", Role.VIEWER),
        ("/admin/trading/order/", Role.VIEWER),
        ("/admin/trading/position/", Role.VIEWER),
        ("/admin/trading/instrument/", Role.VIEWER),
        ("/admin/trading/account/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/trading/instrument/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/django_celery_beat/periodictask/", Role.COMPLIANCE_OFFICER),
        ("/admin/auth/user/", Role.ADMIN),
        ("/admin/auth/user/add/", Role.ADMIN),
        ("/admin/rbac/apitoken/", Role.ADMIN),
        ("/admin/audit/auditevent/", Role.COMPLIANCE_OFFICER),
        ("/admin/audit/checkpoint/", Role.COMPLIANCE_OFFICER),
        ("/admin/surveillance/alert/", Role.COMPLIANCE_OFFICER),
        ("/admin/surveillance/executionreport/", Role.COMPLIANCE_OFFICER),
        ("/admin/reporting/regulatoryreport/", Role.RISK_MANAGER),
        ("/admin/trading/accountentitlement/", Role.RISK_MANAGER),
        ("/admin/rules/compliancerule/", Role.VIEWER),
        ("/admin/rules/compliancerule/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/rules/rulechange/", Role.VIEWER),
        ("/admin/rules/restrictedlistentry/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/rules/regulatoryentity/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/killswitch/killswitch/", Role.VIEWER),
        ("/admin/notifications/delivery/", Role.COMPLIANCE_OFFICER),
    ],
)
def test_admin_pages_need_their_role(client, make_user, url, role):
    assert_page_role_required(client, make_user, url, role)


def test_dashboard_needs_viewer(client, make_user):
    assert_page_role_required(client, make_user, "/", Role.VIEWER)


def test_viewer_sees_orders_read_only(client, make_user, account, instrument):
    from apps.trading.services import order_create

    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="a1",
        side="buy",
        order_type="market",
        quantity="5",
    )
    client.force_login(make_user(Role.VIEWER))
    page = client.get(f"/admin/trading/order/{order.pk}/change/")
    assert page.status_code == 200
    assert b'name="quantity"' not in page.content  # no editable field
    assert (
        client.post(f"/admin/trading/order/{order.pk}/change/", {"quantity": "9"}).status_code
        == 403
    )
    order.refresh_from_db()
    assert order.quantity == 5


def test_trader_cannot_edit_reference_data(client, make_user, account):
    client.force_login(make_user(Role.TRADER))
    response = client.post(f"/admin/trading/account/{account.pk}/change/", {"name": "hacked"})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name != "hacked"


def test_admin_login_form_refuses_users_without_role(client, make_user):
    user = make_user(None)
    response = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_admin_sets_a_role_through_the_user_form(client, make_user):
    client.force_login(make_user(Role.ADMIN))
    target = make_user(Role.VIEWER)
    response = client.post(
        f"/admin/auth/user/{target.pk}/change/",
        {
            "username": target.username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_active": "on",
            "role": "risk_manager",
        },
    )
    assert response.status_code == 302, response.content[:500]
    target.refresh_from_db()
    assert user_role(target) == Role.RISK_MANAGER
    assert target.is_staff


def test_admin_makes_a_feed_through_the_user_form(client, make_user):
    from apps.rbac.access import user_service_role
    from apps.rbac.roles import ServiceRole

    client.force_login(make_user(Role.ADMIN))
    target = make_user(Role.TRADER)
    response = client.post(
        f"/admin/auth/user/{target.pk}/change/",
        {
            "username": target.username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_active": "on",
            "role": "feed",
        },
    )
    assert response.status_code == 302, response.content[:500]
    target.refresh_from_db()
    assert user_role(target) is None and user_service_role(target) is ServiceRole.FEED
    assert not target.is_staff
    listing = client.get("/admin/auth/user/").content.decode()
    assert "Feed" in listing
