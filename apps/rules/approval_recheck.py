"""Re-checking a held order's hard limits when a compliance officer approves it.

Positions, open orders and the kill switch may have moved since the order was held. The gate
evaluates the order again against the state of now, as the same order rather than a new one:
its own open quantity is replaced, not added to, the duplicate check leaves it out, and it is
left out of the order counts it entered when it was submitted (the order rate, the cancel
ratio), so those rules ask what they asked then. Only hard limits count here: failed rules whose
action is "reject" and that are not in testing. The "hold" rules are what the human is
approving, and "warn" rules never block.

Fills the hook `apps.approvals.hooks.recheck_held_order` (`RulesConfig.ready()`).
"""

from apps.rules import gate
from apps.rules.models import RuleAction
from apps.trading.models import Order


def hard_failures(checks: list[dict]) -> list[dict]:
    return [
        c
        for c in checks
        if c["status"] == "fail" and not c.get("shadow") and c["action"] == RuleAction.REJECT
    ]


def recheck_held_order(*, order: Order, user) -> list[dict]:
    """The hard limits that releasing `order` now would breach; [] when it may be released.

    Runs in the caller's transaction, which holds the account's lock (as the gate does)."""
    # As the submitter: the rules judge the order as sent (their role, their provenance).
    submitter = order.submitted_by or user
    _status, checks, _ctx = gate.evaluate_request(
        gate.OrderRequest.from_order(order), submitter, account=order.account, own_counted=True
    )
    return hard_failures(checks)
