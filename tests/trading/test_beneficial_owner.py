"""Beneficial owners as entities: one person written two ways is one owner, an owner may carry
an LEI, and the accounts' free-text names became owners."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.audit.models import AuditEvent
from apps.core.errors import ValidationFailed
from apps.rbac.roles import Role
from apps.trading.models import Account, BeneficialOwner
from apps.trading.owners import owner_name_key, owner_name_normalised
from apps.trading.services import (
    account_create,
    account_update,
    beneficial_owner_create,
    beneficial_owner_update,
)
from tests.permissions import assert_api_role_required
from tests.trading.factories import AccountFactory

LEI = "5493000HALEFAMOFC012"  # passes the ISO 17442 check (demo data)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Petrov, Nadia", "Nadia Petrov"),
        ("  Nadia   Petrov ", "Nadia Petrov"),
        ("Hale, Victor A.", "Victor A. Hale"),
        ("Acme, Inc.", "Acme, Inc."),  # a firm's legal form, not a first name
        ("Example Capital, LLP", "Example Capital, LLP"),
        ("Smith, Jones, Brown", "Smith, Jones, Brown"),  # not one "Last, First"
    ],
)
def test_names_are_normalised(written, stored):
    assert owner_name_normalised(written) == stored


def test_one_person_written_differently_has_one_key():
    keys = {owner_name_key(n) for n in ("Nadia Petrov", "Petrov, Nadia", "NADIA  PETROV")}
    assert keys == {"nadia petrov"}
    assert owner_name_key("Nadia Petrova") != owner_name_key("Nadia Petrov")


def test_an_owner_is_created_audited_and_refused_twice(db, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    owner = beneficial_owner_create(name="Petrov,  Nadia", actor=officer)
    assert owner.name == "Nadia Petrov"
    event = AuditEvent.objects.filter(event_type="CONFIG_CHANGED").last()
    assert event.object_type == "trading.beneficialowner" and officer.username in event.record
    with pytest.raises(ValidationFailed) as refused:
        beneficial_owner_create(name="nadia petrov", actor=officer)
    assert "Nadia Petrov" in str(refused.value.details["name"])
    assert BeneficialOwner.objects.count() == 1


@pytest.mark.parametrize("lei", ["5493000HALEFAMOFC013", "NOT-AN-LEI", "5493000HALEFAMOFC01"])
def test_an_lei_with_a_wrong_check_digit_is_refused(db, lei):
    with pytest.raises(ValidationFailed) as refused:
        beneficial_owner_create(name="Hale Family Office", lei=lei)
    assert "lei" in refused.value.details
    assert not BeneficialOwner.objects.exists()


def test_two_owners_cannot_share_an_lei(db):
    beneficial_owner_create(name="Hale Family Office", lei=LEI)
    with pytest.raises(ValidationFailed):
        beneficial_owner_create(name="Another Office", lei=LEI)
    # Natural persons have none: many owners without an LEI are fine.
    beneficial_owner_create(name="Nadia Petrov")
    beneficial_owner_create(name="Omar Haddad")


def test_renaming_an_owner_to_another_owners_name_is_refused(db):
    beneficial_owner_create(name="Nadia Petrov")
    omar = beneficial_owner_create(name="Omar Haddad")
    with pytest.raises(ValidationFailed):
        beneficial_owner_update(owner=omar, name="Petrov, Nadia")
    renamed = beneficial_owner_update(owner=omar, name="Haddad, Omar K.")
    assert (renamed.name, renamed.name_key) == ("Omar K. Haddad", "omar k. haddad")


def test_an_account_given_an_owner_name_joins_the_existing_owner(db):
    first = account_create(code="ACC-1", name="Personal", beneficial_owner="Nadia Petrov")
    second = account_create(code="ACC-2", name="Trust", beneficial_owner="PETROV, Nadia")
    assert first.beneficial_owner_id == second.beneficial_owner_id
    other = account_update(account=second, beneficial_owner="Omar Haddad")
    assert other.beneficial_owner.name == "Omar Haddad"
    with pytest.raises(ValidationFailed):
        account_create(code="ACC-3", name="Nobody's", beneficial_owner="   ")
    assert not Account.objects.filter(code="ACC-3").exists()


def test_the_account_api_shows_the_owners_name_and_lei(api_client_for, db):
    owner = beneficial_owner_create(name="Hale Family Office", lei=LEI)
    AccountFactory(code="ACC-1", beneficial_owner=owner)
    AccountFactory(code="ACC-2", beneficial_owner="Petrov, Nadia")
    client = api_client_for(Role.VIEWER)
    rows = {r["code"]: r for r in client.get("/api/v1/accounts/").json()["results"]}
    assert (rows["ACC-1"]["beneficial_owner"], rows["ACC-1"]["beneficial_owner_lei"]) == (
        "Hale Family Office",
        LEI,
    )
    assert (rows["ACC-2"]["beneficial_owner"], rows["ACC-2"]["beneficial_owner_lei"]) == (
        "Nadia Petrov",
        "",
    )
    found = client.get("/api/v1/accounts/?beneficial_owner=petrov").json()["results"]
    assert [r["code"] for r in found] == ["ACC-2"]
    assert_api_role_required(api_client_for, "get", "/api/v1/accounts/", Role.VIEWER)


def test_owner_admin_pages_follow_the_policy(client, make_user, db):
    owner = beneficial_owner_create(name="Nadia Petrov")
    AccountFactory(code="ACC-NP", beneficial_owner=owner)  # a Viewer sees owners of their accounts
    client.force_login(make_user(Role.TRADER))
    assert client.get("/admin/trading/beneficialowner/add/").status_code == 403
    client.force_login(make_user(Role.VIEWER))
    assert client.get(f"/admin/trading/beneficialowner/{owner.pk}/change/").status_code == 200
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    again = client.post("/admin/trading/beneficialowner/add/", {"name": "Petrov, Nadia"})
    assert again.status_code == 200 and "already" in again.content.decode()  # the form's error
    added = client.post("/admin/trading/beneficialowner/add/", {"name": "Haddad, Omar", "lei": ""})
    assert added.status_code == 302
    assert BeneficialOwner.objects.filter(name="Omar Haddad").exists()


# --- the migration from free-text names --------------------------------------------------------

BEFORE = [("trading", "0005_short_sides_and_locates")]
AFTER = [("trading", "0006_owners_and_messages")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_free_text_owner_names_become_owners_merging_one_person(audit_transactional_db):
    old = _migrate(BEFORE)
    OldAccount = old.get_model("trading", "Account")
    for code, owner in [
        ("ACC-1", "Nadia Petrov"),
        ("ACC-2", "Petrov, Nadia"),
        ("ACC-3", "  nadia  PETROV "),
        ("ACC-4", "Acme, Inc."),
        ("ACC-5", "Omar Haddad"),
    ]:
        OldAccount.objects.create(code=code, name=code, beneficial_owner=owner)

    new = _migrate(AFTER)
    NewAccount = new.get_model("trading", "Account")
    owners = dict(NewAccount.objects.values_list("code", "beneficial_owner__name"))
    assert owners == {
        "ACC-1": "Nadia Petrov",
        "ACC-2": "Nadia Petrov",
        "ACC-3": "Nadia Petrov",
        "ACC-4": "Acme, Inc.",
        "ACC-5": "Omar Haddad",
    }
    assert new.get_model("trading", "BeneficialOwner").objects.count() == 3

    # And back: each account has its owner's name as text again.
    old = _migrate(BEFORE)
    names = dict(
        old.get_model("trading", "Account").objects.values_list("code", "beneficial_owner")
    )
    assert names["ACC-2"] == "Nadia Petrov" and names["ACC-4"] == "Acme, Inc."
    _migrate(AFTER)


def test_going_back_before_fx_keeps_todays_fills_as_one_figure(audit_transactional_db):
    """Trading 0007 keeps today's fills per currency; going back adds them up again into the
    daily activity, so that the limits of the older code keep counting them."""
    from datetime import date
    from decimal import Decimal

    with_fx = [("trading", "0007_multiplier_and_fx")]
    new = _migrate(with_fx)
    Account = new.get_model("trading", "Account")
    Owner = new.get_model("trading", "BeneficialOwner")
    owner = Owner.objects.create(name="Omar Haddad", name_key="omar haddad")
    account = Account.objects.create(code="ACC-9", name="ACC-9", beneficial_owner=owner)
    Filled = new.get_model("trading", "AccountDailyFilled")
    day = date(2026, 12, 4)
    Filled.objects.create(account=account, date=day, currency="USD", filled_notional=Decimal("100"))
    Filled.objects.create(account=account, date=day, currency="EUR", filled_notional=Decimal("50"))

    old = _migrate(AFTER)
    activity = old.get_model("trading", "AccountDailyActivity").objects.get(account_id=account.pk)
    assert (activity.date, activity.filled_notional) == (day, Decimal("150"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
