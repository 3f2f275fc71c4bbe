"""Re-checking a held order's hard limits when a compliance officer approves it.

Positions, open orders and the kill switch may have moved since the order was held. The gate
evaluates the order again against the state of now, as it does for an amendment: the order's
own open quantity is replaced, not added to (`order_id`), and the duplicate check leaves it out.
Only hard limits count here: failed rules whose action is "reject" and that are not in testing.
The "hold" rules are what the human is approving, and "warn" rules never block.

Two rules count orders rather than exposure: the order rate and the cancel ratio. The held
order was counted in them when it was submitted, so the gate would count it twice now; they are
evaluated again with the held order taken out of the counts, which gives the same question as
at submission ("is this one order more than the account may send?").

Fills the hook `apps.approvals.hooks.recheck_held_order` (`RulesConfig.ready()`).
"""

from dataclasses import replace
from datetime import timedelta

from apps.rules import engine, gate
from apps.rules.checks.base import CheckContext
from apps.rules.models import RuleAction
from apps.trading.models import Order

SELF_COUNTING = frozenset({"order_rate", "cancel_ratio"})


def hard_failures(checks: list[dict]) -> list[dict]:
    return [
        c
        for c in checks
        if c["status"] == "fail" and not c.get("shadow") and c["action"] == RuleAction.REJECT
    ]


def _without_itself(ctx: CheckContext, order: Order) -> CheckContext:
    """The context with the held order taken out of the order counts it is already in."""
    in_last_minute = order.created_at >= ctx.now - timedelta(seconds=60)
    today = order.created_at.date() == ctx.now.date()
    return replace(
        ctx,
        orders_last_minute=max(0, ctx.orders_last_minute - int(in_last_minute)),
        today_orders=max(0, ctx.today_orders - int(today)),
    )


def _recount(checks: list[dict], ctx: CheckContext, order: Order) -> list[dict]:
    ruleset = gate.ruleset_current()
    counting = tuple(r for r in ruleset.rules if r.rule_type in SELF_COUNTING)
    if not counting:
        return checks
    _status, again = engine.evaluate(
        engine.RuleSet(ruleset.version, counting), _without_itself(ctx, order)
    )
    by_rule = {c["rule"]: c for c in again}
    return [by_rule.get(c["rule"], c) for c in checks]


def recheck_held_order(*, order: Order, user) -> list[dict]:
    """The hard limits that releasing `order` now would breach; [] when it may be released.

    Runs in the caller's transaction, which holds the account's lock (as the gate does)."""
    req = gate.OrderRequest(
        account=order.account,
        instrument=order.instrument,
        client_order_id=order.client_order_id,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        limit_price=order.limit_price,
        time_in_force=order.time_in_force,
        metadata=order.metadata,
        body={},
    )
    # As the submitter: the rules judge the order as sent (their role, their provenance).
    submitter = order.submitted_by or user
    _status, checks, ctx = gate.evaluate_request(
        req, submitter, account=order.account, order_id=order.pk
    )
    if ctx is not None:  # None: the evaluation failed, and its failure is in the checks
        checks = _recount(checks, ctx, order)
    return hard_failures(checks)
