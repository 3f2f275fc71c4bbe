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
