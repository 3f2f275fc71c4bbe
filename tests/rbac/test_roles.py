"""Each role may do what its place in the cumulative order grants and no more: API, admin and
pages ask one place (apps.rbac.access over the policy table)."""

import pytest
from django.contrib.auth.models import Group

from apps.rbac.access import can, has_role, user_role, user_service_role
from apps.rbac.policy import MODEL_POLICY
from apps.rbac.roles import ROLE_GROUPS, Role, ServiceRole
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


# --- the Feed service identity, outside the ladder --------------------------------------------


def test_the_feed_passes_no_ladder_check_and_no_role_passes_a_feed_check(make_user):
    feed = make_user(ServiceRole.FEED)
    assert user_role(feed) is None and user_service_role(feed) is ServiceRole.FEED
    assert not any(has_role(feed, role) for role in Role)
    assert has_role(feed, ServiceRole.FEED)
    assert not any(can(feed, "view", label) for label in MODEL_POLICY)
    for role in Role:  # Admin included: a person never posts as the feed
        assert not has_role(make_user(role), ServiceRole.FEED), role
    assert has_role(feed, (Role.VIEWER, ServiceRole.FEED))
    assert not has_role(make_user(None), (Role.VIEWER, ServiceRole.FEED))


def test_the_feed_is_not_staff_and_a_role_replaces_it(make_user):
    feed = make_user(ServiceRole.FEED)
    feed.refresh_from_db()
    assert not feed.is_staff
    assert list(feed.groups.values_list("name", flat=True)) == ["Feed"]
    user_role_set(user=feed, role=Role.TRADER)
    assert user_role(feed) == Role.TRADER and user_service_role(feed) is None
    assert list(feed.groups.values_list("name", flat=True)) == ["Trader"]
    user_role_set(user=feed, role=ServiceRole.FEED)
    assert list(feed.groups.values_list("name", flat=True)) == ["Feed"]
    feed.refresh_from_db()
    assert not feed.is_staff


def test_making_a_feed_is_an_audited_role_change(make_user):
    from apps.audit.models import AuditEvent

    user = make_user(None)
    user_role_set(user=user, role=ServiceRole.FEED)
    event = AuditEvent.objects.filter(object_type="auth.user", object_id=str(user.pk)).last()
    assert '"after":{"role":"feed"}' in event.record


def test_the_feed_gets_a_token_but_not_the_pages_or_the_back_office(make_user, client):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    feed = make_user(ServiceRole.FEED, username="feed-x")
    answer = APIClient().post(
        "/api/v1/auth/token/", {"username": "feed-x", "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    client.force_login(feed)
    assert client.get("/").status_code == 403
    assert client.get("/admin/").status_code == 302  # to the back office's login
    refused = client.post("/admin/login/", {"username": "feed-x", "password": PASSWORD})
    assert refused.status_code == 200 and b"no role" in refused.content
