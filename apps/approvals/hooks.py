"""Upward hooks of the approvals app (apps.core.hooks)."""

from apps.core.hooks import hook
from apps.trading.models import Order

UNAVAILABLE = {
    "rule": "GATE",
    "rule_type": "gate",
    "status": "fail",
    "observed": None,
    "threshold": None,
    "message": "The pre-trade re-check is not available; the order cannot be released.",
    "regulation": "SEC 15c3-5(c)",
    "code": "recheck_unavailable",
    "action": "reject",
}


def _unavailable(*, order: Order, user) -> list[dict]:
    return [dict(UNAVAILABLE)]


@hook(filled_by="apps.rules", when_empty=_unavailable)
def recheck_held_order(*, order: Order, user) -> list[dict]:
    """The hard limits the held order would breach if it were released now ([] when none).

    Approving a held order re-checks it at decision time, but approvals sit below rules (the
    gate creates approval requests) and cannot call the gate themselves; the rules app fills
    this with `apps.rules.approval_recheck.recheck_held_order`. Empty, it answers with the
    `recheck_unavailable` failure: an approval is refused rather than released unchecked (fail
    closed, SEC 15c3-5).
    """


def _no_alerts(*, order: Order, user) -> list[dict]:
    return []


@hook(filled_by="apps.surveillance", when_empty=_no_alerts)
def account_open_alerts(*, order: Order, user) -> list[dict]:
    """The surveillance alerts still open on the held order's account, as `user` may see them:
    the most severe first, those in the order's instrument before the others. Each row has `id`,
    `severity`, `detector`, `title`, `instrument`, `same_instrument`, `status`, `created_at`,
    `assignee` and `url`.

    Surveillance sits above approvals; `apps.surveillance.selectors.account_open_alerts` fills
    this. Empty (surveillance not installed), the page says it has no alerts to show.
    """
