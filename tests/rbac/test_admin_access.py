"""The back office: each role sees and changes only what the policy allows it."""

import pytest
from django.contrib.auth import get_user_model

from apps.changes.models import ConfigChange
from apps.changes.services import config_change_decide
from apps.rbac.access import user_role
from apps.rbac.roles import Role
from tests.conftest import PASSWORD
from tests.permissions import assert_page_role_required

User = get_user_model()


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


def test_admin_proposes_a_role_through_the_user_form(client, make_user):
    maker = make_user(Role.ADMIN)
    client.force_login(maker)
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
    target = User.objects.get(pk=target.pk)
    assert user_role(target) == Role.VIEWER  # proposed, not set
    change = ConfigChange.objects.get(kind="user_role", target_key=target.username)
    assert (change.before, change.proposed) == ({"role": "viewer"}, {"role": "risk_manager"})
    assert change.proposed_by == maker
    config_change_decide(change=change, actor=make_user(Role.ADMIN), approve=True, comment="ok")
    target = User.objects.get(pk=target.pk)
    assert user_role(target) == Role.RISK_MANAGER
    assert target.is_staff


def test_a_user_added_in_the_admin_has_no_role_until_another_admin_approves(client, make_user):
    client.force_login(make_user(Role.ADMIN))
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password": "long-enough-pw", "email": "", "role": "trader"},
    )
    assert response.status_code == 302, response.content[:500]
    newbie = User.objects.get(username="newbie")
    assert user_role(newbie) is None and not newbie.is_staff
    change = ConfigChange.objects.get(kind="user_role", target_key="newbie")
    assert change.before == {"role": None} and change.proposed == {"role": "trader"}


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
    # Proposed, not set: the trader stays a trader until a second Admin approves.
    target.refresh_from_db()
    assert user_role(target) == Role.TRADER
    change = ConfigChange.objects.get(kind="user_role", target_key=target.username)
    assert change.before == {"role": "trader"} and change.proposed == {"role": "feed"}
    config_change_decide(change=change, actor=make_user(Role.ADMIN), approve=True, comment="ok")
    target = User.objects.get(pk=target.pk)
    assert user_role(target) is None and user_service_role(target) is ServiceRole.FEED
    assert not target.is_staff
    listing = client.get("/admin/auth/user/").content.decode()
    assert "Feed" in listing
