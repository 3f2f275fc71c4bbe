"""What every detector shares: its parameters, its findings, and the shape of its state.

A detector is fed stream events one at a time (`feed_<kind>` methods, picked by the engine)
and keeps only what its sliding windows need; `sweep(now)` drops what has left every window,
so memory follows the window, not the history. A detector returns a `Finding` when an event
completes a pattern; it never touches the database.
"""

from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from apps.core.errors import ValidationFailed

ONE = Decimal(1)
SCORE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Param:
    type: type  # int, Decimal or str
    default: Any
    minimum: Any
    help: str
    maximum: Any = None
    choices: tuple = ()  # a str parameter: a comma-separated list of these


@dataclass
class Finding:
    detector: str
    severity: str
    key: str  # one pattern, one alert: findings with the same key add to one open alert
    account: str
    instrument: str
    score: Decimal
    title: str
    seq: int  # the event that completed the pattern
    ts: float
    window_start: float
    window_end: float
    orders: tuple = ()
    fills: tuple = ()
    executions: tuple = ()
    details: dict = field(default_factory=dict)


def score_of(value) -> Decimal:
    """A score between 0 and 1, four places."""
    value = Decimal(value)
    value = min(max(value, Decimal(0)), ONE)
    return value.quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def params_validated(spec: dict[str, Param], given: Any) -> dict[str, Any]:
    """The detector's parameters: its defaults overridden by `given`, each checked."""
    if given in (None, ""):
        given = {}
    if not isinstance(given, dict):
        raise ValidationFailed(details={"params": ["Must be an object of parameter: value."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(given) - set(spec))
    if unknown:
        errors["params"] = [f"Unknown parameter(s): {', '.join(unknown)}."]
    values: dict[str, Any] = {}
    for name, param in spec.items():
        raw = given.get(name, param.default)
        if param.type is str:
            chosen = _choices_validated(raw, param.choices)
            if chosen is None:
                errors[name] = [
                    f"Must be one or more of {', '.join(param.choices)}, separated by commas."
                ]
            else:
                values[name] = chosen
            continue
        try:
            if param.type is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError
                value = int(str(raw))
            else:
                if isinstance(raw, bool):
                    raise ValueError
                value = Decimal(str(raw))
                if not value.is_finite():
                    raise ValueError
        except (ValueError, InvalidOperation):
            kind = "a whole number" if param.type is int else "a number"
            errors[name] = [f"Must be {kind}."]
            continue
        if value < param.minimum or (param.maximum is not None and value > param.maximum):
            bound = f"at least {param.minimum}"
            if param.maximum is not None:
                bound += f" and at most {param.maximum}"
            errors[name] = [f"Must be {bound}."]
            continue
        values[name] = value
    if errors:
        raise ValidationFailed("The detector's parameters are not valid.", details=errors)
    return values


def _choices_validated(raw: Any, choices: tuple) -> str | None:
    """A comma-separated list of choices, in the order given, each once; None if invalid."""
    if not isinstance(raw, str):
        return None
    picked = list(dict.fromkeys(part.strip() for part in raw.split(",")))
    if not picked or any(part not in choices for part in picked):
        return None
    return ",".join(picked)


def params_json(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters as stored: decimals as strings, whole numbers as numbers."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


class Detector:
    name: ClassVar[str]
    severity: ClassVar[str]
    params_spec: ClassVar[dict[str, Param]]

    def __init__(self, params: dict[str, Any] | None = None, context=None):
        self.params = params_validated(self.params_spec, params or {})
        self.context = context
        self.setup()

    def setup(self) -> None:
        """Read the parameters into attributes and create the empty state."""

    def horizon(self) -> float:
        """How many seconds of earlier events this detector needs to see to decide now."""
        raise NotImplementedError

    def sweep(self, now: float) -> None:
        """Drop state older than every window."""

    @property
    def dedup_seconds(self) -> float:
        return float(self.params.get("dedup_seconds", 3600))


def prune_keys(table: dict, cutoff: float, newest) -> None:
    """Drop the entries of `table` whose newest time (`newest(value)`) is before `cutoff`."""
    stale = [key for key, value in table.items() if newest(value) < cutoff]
    for key in stale:
        del table[key]


def pop_older(queue: deque, cutoff: float) -> None:
    """Drop from the left of a deque of (ts, ...) tuples everything before `cutoff`."""
    while queue and queue[0][0] < cutoff:
        queue.popleft()


DEDUP = Param(
    int,
    3600,
    0,
    "Seconds after an alert's last occurrence during which the same "
    "pattern adds to it instead of raising a new one.",
)


# --- grouping ---------------------------------------------------------------------------------

# Who a pattern belongs to: one account, one beneficial owner (the entity: accounts of one owner
# however its name is written), one trader (the user who submitted the orders), one strategy
# (the orders' metadata.strategy). Each maps to the Event attribute that holds it.
GROUPINGS = {"account": "account", "owner": "owner", "trader": "user", "strategy": "strategy"}


def grouping_param(default: str) -> Param:
    return Param(
        str,
        default,
        None,
        "Whose orders and trades are looked at together: account, owner (the beneficial "
        "owner), trader (the submitting user) or strategy; several separated by commas, each "
        "looked at on its own.",
        choices=tuple(GROUPINGS),
    )


def groupings_of(value: str) -> tuple[tuple[str, str], ...]:
    """The (grouping, Event attribute) pairs of a grouping parameter's value."""
    return tuple((name, GROUPINGS[name]) for name in value.split(","))


def group_keys(ev, groupings: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """(grouping, who) for each grouping the event belongs to; an event without a trader or a
    strategy is in no such group."""
    if len(groupings) == 1:  # the usual case, on the hot path
        name, attr = groupings[0]
        who = getattr(ev, attr)
        return ((name, who),) if who else ()
    return tuple((name, getattr(ev, attr)) for name, attr in groupings if getattr(ev, attr))


def is_market_maker(context, account: str) -> bool:
    makers = getattr(context, "market_makers", None)
    return bool(makers) and account in makers


def market_of(context):
    """The market's trades and quotes beside the firm's flow, or None when there are none."""
    return getattr(context, "market", None)


def min_score_param(default: str) -> Param:
    return Param(
        Decimal,
        default,
        Decimal(0),
        "Findings scored below this are not raised (0: every finding is).",
        Decimal(1),
    )
