"""Each role may do what its place in the cumulative order grants and no more: API, admin and
pages ask one place (apps.rbac.access over the policy table)."""

import pytest
from django.contrib.auth.models import Group

from apps.rbac.access import can, has_role, user_role
from apps.rbac.policy import MODEL_POLICY
from apps.rbac.roles import ROLE_GROUPS, Role
from apps.rbac.services import user_role_set


def test_migration_creates_the_five_role_groups(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_GROUPS.values())


@pytest.mark.parametrize("role", list(Role))
def test_roles_are_cumulative(make_user, role):
    user = make_user(role)
    assert user_role(user) == role
    for other in Role:
        assert has_role(user, other) == (other <= role)


def test_group_permissions_follow_the_policy(db):
    trader = Group.objects.get(name="Trader")
    codenames = set(trader.permissions.values_list("codename", flat=True))
    assert "view_order" in codenames
    assert "change_account" not in codenames  # reference data is compliance's
    compliance = Group.objects.get(name="Compliance Officer")
    assert compliance.permissions.filter(codename="change_account").exists()
    admin = Group.objects.get(name="Admin")
    assert admin.permissions.filter(codename="change_user").exists()
    assert not compliance.permissions.filter(codename="change_user").exists()


def test_user_without_role_may_do_nothing(make_user):
    user = make_user(None)
    assert user_role(user) is None
    assert not any(can(user, "view", label) for label in MODEL_POLICY)


def test_inactive_user_has_no_role(make_user):
    user = make_user(Role.ADMIN)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert user_role(user) is None


def test_changing_role_replaces_the_old_one(make_user):
    user = make_user(Role.TRADER)
    user_role_set(user=user, role=Role.VIEWER)
    assert user_role(user) == Role.VIEWER
    assert list(user.groups.values_list("name", flat=True)) == ["Viewer"]
    user_role_set(user=user, role=None)
    assert user_role(user) is None
    user.refresh_from_db()
    assert not user.is_staff


def test_order_book_is_never_editable_in_forms(make_user):
    admin = make_user(Role.ADMIN)
    for label in ("trading.order", "trading.fill", "trading.position"):
        assert can(admin, "view", label)
        assert not can(admin, "change", label)
        assert not can(admin, "add", label)
        assert not can(admin, "delete", label)
