"""seed_demo gives every page something to show and can run any number of times."""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count

from apps.rbac.access import user_role
from apps.rbac.roles import Role
from apps.trading.models import Account, DailyPrice, Instrument, ReferencePrice
from apps.trading.validators import isin_is_valid

EXPECTED_USERS = {
    "viewer": Role.VIEWER,
    "trader": Role.TRADER,
    "trader2": Role.TRADER,
    "risk": Role.RISK_MANAGER,
    "compliance": Role.COMPLIANCE_OFFICER,
    "compliance2": Role.COMPLIANCE_OFFICER,
    "admin": Role.ADMIN,
}


def _counts():
    return (
        get_user_model().objects.count(),
        Account.objects.count(),
        Instrument.objects.count(),
        ReferencePrice.objects.count(),
        DailyPrice.objects.count(),
    )


def test_seed_demo_is_complete_and_idempotent(db):
    call_command("seed_demo", "--password", "pw-123456")
    first = _counts()
    call_command("seed_demo", "--password", "pw-123456")
    assert _counts() == first

    User = get_user_model()
    for username, role in EXPECTED_USERS.items():
        user = User.objects.get(username=username)
        assert user_role(user) == role
        assert user.check_password("pw-123456")

    assert Account.objects.count() >= 4
    owners = Account.objects.values("beneficial_owner").annotate(n=Count("id"))
    assert any(row["n"] >= 2 for row in owners), "two accounts share a beneficial owner"

    instruments = Instrument.objects.all()
    assert instruments.count() >= 25
    assert instruments.values("sector").distinct().count() >= 5
    mics = set(instruments.values_list("mic", flat=True))
    assert mics & {"XNYS", "XNAS"} and mics & {"XETR", "XPAR"}
    assert all(isin_is_valid(i.isin) for i in instruments)
    assert instruments.filter(underlying__isnull=False).exists()
    assert instruments.filter(calendar="24/7").exists()
    assert not instruments.filter(reference_prices__isnull=True).exists()

    aapl = Instrument.objects.get(symbol="AAPL")
    assert aapl.daily_prices.count() == 300
    for bar in aapl.daily_prices.all()[:50]:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_seed_demo_grants_the_demo_users_their_accounts(db, strict_entitlements):
    """`trader` works every demo account but one, which only `trader2` may trade; `viewer`
    sees them all; `feed` is the service identity; a second run grants nothing more."""
    from apps.rbac.access import user_service_role
    from apps.rbac.roles import ServiceRole
    from apps.trading.models import AccountEntitlement

    call_command("seed_demo", "--password", "pw-123456", "--no-history")
    call_command("seed_demo", "--password", "pw-123456", "--no-history")
    User = get_user_model()
    every = set(Account.objects.values_list("code", flat=True))

    def codes(username):
        user = User.objects.get(username=username)
        return set(Account.objects.restrict(user).values_list("code", flat=True))

    assert codes("viewer") == every
    only_trader2 = every - codes("trader")
    assert len(only_trader2) == 1 and only_trader2 <= codes("trader2")
    assert codes("risk") == every
    feed = User.objects.get(username="feed")
    assert user_service_role(feed) is ServiceRole.FEED and user_role(feed) is None
    assert codes("feed") == set()
    granted = AccountEntitlement.objects.count()
    assert granted == len(every) + (len(every) - 1) + len(codes("trader2"))
