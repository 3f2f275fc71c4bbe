"""The kill switch as the gate sees it: a pure check on plain values, run before any rule.

The gate reads the switches in force on the order in its batched read
(`apps.rules.reads.active_kill_switches`) and passes them here with the position and the
working quantities of the order's account and instrument.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.killswitch.models import KillSwitchState
from apps.trading.models import is_sell

KILL_SWITCH_RULE = "KILL-SWITCH"


@dataclass(frozen=True)
class _Switch:
    scope: str
    target: str
    state: str
    reason: str


def kill_switch_check(
    *,
    switches: Sequence[tuple[str, str, str, str]],
    side: str,
    quantity: Decimal,
    position: Decimal,
    working_buy: Decimal,
    working_sell: Decimal,
) -> dict | None:
    """The firm's kill switch, before any rule: halted rejects; reducing lets through only
    orders that shrink the absolute position without flipping it.

    `switches` are the (scope, target, state, reason) rows in force on the order, oldest first;
    `position` is the signed net quantity, `working_buy`/`working_sell` the open quantities
    (without the order being amended). None when no switch applies."""
    active = [_Switch(*row) for row in switches]
    if not active:
        return None
    halted = [s for s in active if s.state == KillSwitchState.HALTED]
    base = {
        "rule": KILL_SWITCH_RULE,
        "rule_type": "kill_switch",
        "action": "reject",
        "regulation": "SEC 15c3-5; MiFID II RTS 6 art. 12",
        "threshold": None,
    }
    if halted:
        s = halted[0]
        return {
            **base,
            "status": "fail",
            "code": "kill_switch_halted",
            "observed": s.scope,
            "message": f"Trading is halted ({s.scope} {s.target or ''}): {s.reason}".strip(),
        }
    s = active[0]
    # How much the order may trade and still only shrink the position (open orders count).
    room = position - working_sell if is_sell(side) else -position - working_buy
    if room > 0 and quantity <= room:
        return {
            **base,
            "status": "pass",
            "code": "reduces_position",
            "observed": str(position),
            "message": "Reducing-only: this order shrinks the position.",
        }
    return {
        **base,
        "status": "fail",
        "code": "kill_switch_reducing_only",
        "observed": str(position),
        "message": f"Reducing-only ({s.scope} {s.target or ''}): the order would not shrink "
        f"the position of {position} without flipping it.",
    }
