"""The back office proposes: account limits, instrument economics, manual prices and rates are
saved as pending changes, shown with their diff and decided by a second person."""

from decimal import Decimal as D

from django.utils import timezone

from apps.changes.models import ChangeStatus, ConfigChange
from apps.changes.services import config_change_decide
from apps.rbac.roles import Role
from apps.trading.models import Account, ReferencePrice
from tests.permissions import assert_page_role_required

CHANGES = "/admin/changes/configchange/"


def account_form(account, **overrides) -> dict:
    data = {
        "code": account.code,
        "name": account.name,
        "beneficial_owner": account.beneficial_owner_id,
        "is_active": "on",
        "base_currency": account.base_currency,
        "credit_limit": str(account.credit_limit),
        "lei": "",
        "webhook_url": "",
        "webhook_secret": "",
        "trading_capacity": account.trading_capacity,
        "client_category": account.client_category,
        "decision_maker": "",
    }
    data.update(overrides)
    return data


def test_the_change_list_needs_a_risk_manager(client, make_user):
    assert_page_role_required(client, make_user, CHANGES, Role.RISK_MANAGER)


def test_a_credit_limit_edit_is_proposed_shown_with_its_diff_and_approved(
    client, make_user, account
):
    maker, checker = make_user(Role.RISK_MANAGER), make_user(Role.RISK_MANAGER)
    client.force_login(maker)
    url = f"/admin/trading/account/{account.pk}/change/"
    response = client.post(url, account_form(account, credit_limit="25000000"))
    assert response.status_code == 302, response.content[:800]
    assert Account.objects.get(pk=account.pk).credit_limit == D("1000000")
    change = ConfigChange.objects.get()
    assert change.kind == "account_limits" and change.proposed_by == maker
    assert "pending" in client.get(url).content.decode()  # the form names the pending change

    listing = client.get(CHANGES).content.decode()
    assert "credit_limit: 1000000 → 25000000" in listing

    # The proposer's own approval is refused, and nothing changes.
    action = {"action": "approve_changes", "_selected_action": [change.pk]}
    confirm = {**action, "confirm": "yes", "comment": "mine"}
    client.post(CHANGES, confirm)
    assert ConfigChange.objects.get().status == ChangeStatus.PENDING

    client.force_login(checker)
    page = client.post(CHANGES, action)
    assert page.status_code == 200 and "credit_limit: 1000000 → 25000000" in page.content.decode()
    assert client.post(CHANGES, {**action, "confirm": "yes", "comment": ""}).status_code == 200
    assert ConfigChange.objects.get().status == ChangeStatus.PENDING  # a comment is required
    client.post(CHANGES, {**confirm, "comment": "Board approved the line."})
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED and change.decided_by == checker
    assert Account.objects.get(pk=account.pk).credit_limit == D("25000000")


def test_other_account_fields_save_at_once(client, make_user, account):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    url = f"/admin/trading/account/{account.pk}/change/"
    assert client.post(url, account_form(account, name="Renamed")).status_code == 302
    assert Account.objects.get(pk=account.pk).name == "Renamed"
    assert not ConfigChange.objects.exists()


def test_a_bad_limit_shows_on_the_form_and_stores_nothing(client, make_user, account):
    client.force_login(make_user(Role.RISK_MANAGER))
    url = f"/admin/trading/account/{account.pk}/change/"
    page = client.post(url, account_form(account, credit_limit="-1"))
    assert page.status_code == 200 and "credit_limit" in page.context["adminform"].form.errors
    assert not ConfigChange.objects.exists()


def test_a_second_pending_limit_change_shows_on_the_form(client, make_user, account):
    client.force_login(make_user(Role.RISK_MANAGER))
    url = f"/admin/trading/account/{account.pk}/change/"
    assert client.post(url, account_form(account, credit_limit="5")).status_code == 302
    page = client.post(url, account_form(account, credit_limit="6"))
    assert page.status_code == 200
    assert "pending" in str(page.context["adminform"].form.non_field_errors())
    assert ConfigChange.objects.count() == 1


def test_a_new_account_has_no_credit_until_its_limit_is_approved(client, make_user, account):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    data = account_form(account, code="ACC-NEW", name="New Ltd", credit_limit="250000")
    assert client.post("/admin/trading/account/add/", data).status_code == 302
    new = Account.objects.get(code="ACC-NEW")
    assert new.credit_limit == 0
    change = ConfigChange.objects.get(target_key="ACC-NEW")
    assert change.proposed == {"credit_limit": "250000"}
    config_change_decide(
        change=change, actor=make_user(Role.RISK_MANAGER), approve=True, comment="ok"
    )
    assert Account.objects.get(code="ACC-NEW").credit_limit == D("250000")


def test_a_manual_reference_price_is_proposed_in_the_admin(client, make_user, instrument):
    client.force_login(make_user(Role.TRADER))
    assert client.get("/admin/trading/referenceprice/add/").status_code == 403
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    now = timezone.now()
    count = ReferencePrice.objects.count()
    response = client.post(
        "/admin/trading/referenceprice/add/",
        {
            "instrument": instrument.pk,
            "price": "201.5",
            "as_of_0": now.strftime("%Y-%m-%d"),
            "as_of_1": now.strftime("%H:%M:%S"),
            "source": "manual",
        },
    )
    assert response.status_code == 302 and response["Location"] == CHANGES
    assert ReferencePrice.objects.count() == count
    change = ConfigChange.objects.get(kind="reference_price")
    config_change_decide(
        change=change, actor=make_user(Role.COMPLIANCE_OFFICER), approve=True, comment="ok"
    )
    change.refresh_from_db()
    assert ReferencePrice.objects.get(pk=change.applied_id).price == D("201.5")


def test_a_bad_reference_price_shows_on_the_form(client, make_user, instrument):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    now = timezone.now()
    page = client.post(
        "/admin/trading/referenceprice/add/",
        {
            "instrument": instrument.pk,
            "price": "-3",
            "as_of_0": now.strftime("%Y-%m-%d"),
            "as_of_1": now.strftime("%H:%M:%S"),
            "source": "manual",
        },
    )
    assert page.status_code == 200 and page.context["adminform"].form.errors
    assert not ConfigChange.objects.exists()


def test_a_risk_manager_proposes_limits_and_changes_nothing_else(client, make_user, account):
    client.force_login(make_user(Role.RISK_MANAGER))
    url = f"/admin/trading/account/{account.pk}/change/"
    data = account_form(account, name="Renamed by risk", credit_limit="7000")
    assert client.post(url, data).status_code == 302
    assert Account.objects.get(pk=account.pk).name == account.name
    assert ConfigChange.objects.get().proposed == {"credit_limit": "7000"}
    client.force_login(make_user(Role.TRADER))
    assert client.post(url, data).status_code == 403
