"""Reads of the kill switch."""

from django.core.cache import cache
from django.db import transaction
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


# The banner on every page reads the active switches. They change rarely and the list is short:
# it is kept in the cache, dropped by the services when a switch is activated or lifted (at once
# and again when the change commits), so the next page load shows the change. The short lifetime
# bounds what a process whose local cache nobody dropped (a worker's switch, with the embedded
# per-process cache) can show late.
ACTIVE_CACHE_KEY = "killswitch:active:v1"
ACTIVE_CACHE_SECONDS = 2


def active_switches_forget() -> None:
    """Drop the cached list of active switches, now and when the transaction commits."""
    cache.delete(ACTIVE_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(ACTIVE_CACHE_KEY))


def active_switches(*, user) -> list[dict]:
    """The active switches `user` may see, as plain rows (scope, target, state, reason), the
    widest scope first: what the banner on every page shows."""
    rows = cache.get(ACTIVE_CACHE_KEY)
    if rows is None:
        rows = [
            {
                "id": s.pk,
                "scope": s.scope,
                "scope_label": s.get_scope_display(),
                "target": s.target,
                "state": s.state,
                "reason": s.reason,
                "activated_at": s.activated_at,
            }
            for s in KillSwitch.objects.filter(is_active=True).order_by("activated_at", "id")
        ]
        cache.set(ACTIVE_CACHE_KEY, rows, ACTIVE_CACHE_SECONDS)
    if any(r["scope"] == KillSwitchScope.ACCOUNT for r in rows):
        codes = entitled_account_codes(user)
        if codes is not None:
            codes = set(codes)
            rows = [
                r for r in rows if r["scope"] != KillSwitchScope.ACCOUNT or r["target"] in codes
            ]
    order = {KillSwitchScope.FIRM: 0, KillSwitchScope.ACCOUNT: 1, KillSwitchScope.INSTRUMENT: 2}
    return sorted(rows, key=lambda r: order.get(r["scope"], 3))
