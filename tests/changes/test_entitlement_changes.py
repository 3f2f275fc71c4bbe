"""Entitlements change under maker-checker: an Admin proposes that a user may (or may no
longer) see and trade an account, a second Admin approves, and the user concerned never
decides it. Until then the trader's view of the account is what it was."""

import pytest
from django.contrib.auth import get_user_model

from apps.audit.models import AuditEvent
from apps.changes.models import ChangeStatus, ConfigChange
from apps.changes.services import config_change_decide, config_change_propose
from apps.rbac.roles import Role
from apps.trading.models import AccountEntitlement
from apps.trading.services import entitlement_grant
from tests.permissions import assert_page_role_required

URL = "/api/v1/changes/"
User = get_user_model()


@pytest.fixture
def trader(make_user, strict_entitlements):
    return make_user(Role.TRADER)


def entitled(user, account) -> bool:
    return AccountEntitlement.objects.filter(user=user, account=account).exists()


def test_a_grant_takes_effect_when_a_second_admin_approves(api_client_for, trader, account):
    maker, checker = api_client_for(Role.ADMIN), api_client_for(Role.ADMIN)
    target = f"{trader.username}/{account.code}"
    proposed = maker.post(
        URL,
        {"kind": "entitlement", "target": target, "values": {"entitled": True}},
        format="json",
    )
    assert proposed.status_code == 201, proposed.json()
    change_id = proposed.json()["id"]
    assert not entitled(trader, account)
    # the trader's own lists do not show the account yet
    as_trader = api_client_for(None)
    as_trader.force_authenticate(trader)
    assert as_trader.get(f"/api/v1/accounts/?code={account.code}").json()["count"] == 0
    # the proposer cannot approve it
    refused = maker.post(f"{URL}{change_id}/approve/", {"comment": "mine"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes"
    approved = checker.post(f"{URL}{change_id}/approve/", {"comment": "desk head"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert entitled(trader, account)
    assert as_trader.get(f"/api/v1/accounts/?code={account.code}").json()["count"] == 1
    granted = AuditEvent.objects.filter(object_type="trading.accountentitlement")
    assert granted.count() == 1


def test_a_revocation_is_proposed_and_approved(make_user, trader, account):
    entitlement_grant(user=trader, account=account, actor=None)
    maker, checker = make_user(Role.ADMIN), make_user(Role.ADMIN)
    change = config_change_propose(
        kind="entitlement",
        target=f"{trader.username}/{account.code}",
        values={"entitled": False},
        actor=maker,
    )
    assert change.before == {"entitled": True} and entitled(trader, account)
    config_change_decide(change=change, actor=checker, approve=True, comment="left the desk")
    assert not entitled(trader, account)


def test_nobody_approves_their_own_entitlement(make_user, account, strict_entitlements):
    maker, subject = make_user(Role.ADMIN), make_user(Role.ADMIN)
    change = config_change_propose(
        kind="entitlement",
        target=f"{subject.username}/{account.code}",
        values={"entitled": True},
        actor=maker,
    )
    with pytest.raises(Exception) as refused:
        config_change_decide(change=change, actor=subject, approve=True, comment="me")
    assert getattr(refused.value, "code", "") == "four_eyes"
    assert ConfigChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING


@pytest.mark.parametrize(
    "target, values",
    [
        ("nobody/ACC-T1", {"entitled": True}),
        ("{trader}/NO-SUCH", {"entitled": True}),
        ("{trader}/ACC-T1", {"entitled": "yes"}),
        ("{trader}/ACC-T1", {}),
    ],
)
def test_a_bad_entitlement_proposal_is_400_and_stores_nothing(
    api_client_for, trader, account, target, values
):
    response = api_client_for(Role.ADMIN).post(
        URL,
        {"kind": "entitlement", "target": target.format(trader=trader.username), "values": values},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"]
    assert not ConfigChange.objects.exists()


def test_a_compliance_officer_cannot_propose_an_entitlement(api_client_for, trader, account):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        URL,
        {
            "kind": "entitlement",
            "target": f"{trader.username}/ACC-T1",
            "values": {"entitled": True},
        },
        format="json",
    )
    assert response.status_code == 403
    assert not ConfigChange.objects.exists()


def test_the_admin_add_form_proposes_and_the_action_proposes_revoking(
    client, make_user, trader, account
):
    admin_user = make_user(Role.ADMIN)
    client.force_login(admin_user)
    response = client.post(
        "/admin/trading/accountentitlement/add/", {"user": trader.pk, "account": account.pk}
    )
    assert response.status_code == 302, response.content[:800]
    assert not entitled(trader, account)
    change = ConfigChange.objects.get(kind="entitlement")
    assert change.proposed == {"entitled": True} and change.proposed_by == admin_user
    config_change_decide(change=change, actor=make_user(Role.ADMIN), approve=True, comment="ok")
    row = AccountEntitlement.objects.get(user=trader, account=account)
    response = client.post(
        "/admin/trading/accountentitlement/",
        {"action": "propose_revoke", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    revoke = ConfigChange.objects.get(kind="entitlement", status=ChangeStatus.PENDING)
    assert revoke.proposed == {"entitled": False} and entitled(trader, account)


def test_the_entitlement_add_form_needs_an_admin(client, make_user):
    assert_page_role_required(
        client, make_user, "/admin/trading/accountentitlement/add/", Role.ADMIN
    )
