"""seed_demo is safe to re-run: it never undoes what an installer did to a demo user."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.rbac.access import user_role
from apps.rbac.roles import Role
from apps.rbac.services import user_password_set, user_role_set, user_update


def _seed(*args):
    out = StringIO()
    call_command("seed_demo", "--no-history", *args, stdout=out)
    return out.getvalue()


def test_running_it_twice_keeps_a_deactivated_user_deactivated(db):
    _seed("--password", "pw-123456")
    User = get_user_model()
    admin = User.objects.get(username="admin")
    user_update(user=admin, is_active=False)
    trader = User.objects.get(username="trader")
    user_password_set(user=trader, password="the-installers-own")
    user_role_set(user=User.objects.get(username="viewer"), role=None)

    out = _seed("--password", "pw-123456")  # what `make run` does on every start

    admin.refresh_from_db()
    trader.refresh_from_db()
    assert admin.is_active is False
    assert trader.check_password("the-installers-own")
    assert not trader.check_password("pw-123456")
    assert user_role(User.objects.get(username="viewer")) is None
    assert "existing user: unchanged" in out


def test_reset_users_puts_them_back(db):
    _seed("--password", "pw-123456")
    User = get_user_model()
    user_update(user=User.objects.get(username="admin"), is_active=False)
    user_password_set(user=User.objects.get(username="trader"), password="the-installers-own")

    _seed("--password", "pw-654321", "--reset-users")

    admin = User.objects.get(username="admin")
    assert admin.is_active is True
    assert user_role(admin) == Role.ADMIN
    assert User.objects.get(username="trader").check_password("pw-654321")


def test_missing_users_are_created_again(db):
    _seed("--password", "pw-123456")
    User = get_user_model()
    User.objects.filter(username="trader2").delete()
    _seed("--password", "pw-123456")
    trader2 = User.objects.get(username="trader2")
    assert trader2.check_password("pw-123456")
    assert user_role(trader2) == Role.TRADER


def test_with_debug_off_it_needs_an_explicit_password(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--password"):
        _seed()
    assert not get_user_model().objects.exists()


def test_with_debug_on_the_published_password_is_the_default(db, settings):
    from apps.demo.reference import DEFAULT_PASSWORD

    settings.DEBUG = True
    _seed()
    assert get_user_model().objects.get(username="compliance").check_password(DEFAULT_PASSWORD)


def test_running_it_again_does_not_grant_back_a_revoked_entitlement(db, strict_entitlements):
    from apps.trading.models import Account, AccountEntitlement
    from apps.trading.services import entitlement_revoke

    _seed("--password", "pw-123456")
    trader = get_user_model().objects.get(username="trader")
    account = Account.objects.get(code="ACC-001")
    assert AccountEntitlement.objects.filter(user=trader, account=account).exists()
    entitlement_revoke(user=trader, account=account)

    _seed("--password", "pw-123456")

    assert not AccountEntitlement.objects.filter(user=trader, account=account).exists()
    # the other demo accounts the trader had are still theirs
    assert AccountEntitlement.objects.filter(user=trader).exists()
