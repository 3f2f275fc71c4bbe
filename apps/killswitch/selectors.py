"""Reads of the kill switch."""

from django.db.models import Q, QuerySet

from apps.killswitch.models import KillSwitch, KillSwitchScope
from apps.trading.selectors import entitled_account_codes


def kill_switch_restrict(rows: QuerySet[KillSwitch], *, user) -> QuerySet[KillSwitch]:
    """`rows` less the account switches of accounts `user` may not see."""
    codes = entitled_account_codes(user)
    if codes is None:
        return rows
    return rows.filter(~Q(scope=KillSwitchScope.ACCOUNT) | Q(target__in=codes))


def kill_switch_list(*, user, active: bool | None = None) -> QuerySet[KillSwitch]:
    """The switches `user` may see, active ones first, then the most recent.

    Firm and instrument switches are firm-wide information that every role sees (a trader
    needs them to understand a rejection); an account's switch only by those who may see the
    account (Risk Manager and above: every account)."""
    rows = KillSwitch.objects.select_related("activated_by", "deactivated_by").order_by(
        "-is_active", "-activated_at", "-id"
    )
    rows = kill_switch_restrict(rows, user=user)
    if active is not None:
        rows = rows.filter(is_active=active)
    return rows
