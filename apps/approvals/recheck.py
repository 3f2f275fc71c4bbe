"""The hard-limit re-check at decision time, filled in by the rules app.

Approvals sit below rules (the gate creates approval requests), so they cannot call the gate
themselves. The rules app registers a function here when it loads; `run` calls it. With nothing
registered, `run` answers with a failure: an approval is refused rather than released unchecked
(fail closed, SEC 15c3-5).
"""

from collections.abc import Callable

# (order, user) -> the checks that fail now: hard limits only (action "reject", not shadow).
Recheck = Callable[..., list[dict]]

_recheck: Recheck | None = None

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


def register(recheck: Recheck | None) -> None:
    global _recheck
    _recheck = recheck


def get() -> Recheck | None:
    return _recheck


def run(*, order, user) -> list[dict]:
    """The hard limits the order would breach if it were released now ([] when none)."""
    if _recheck is None:
        return [dict(UNAVAILABLE)]
    return _recheck(order=order, user=user)
