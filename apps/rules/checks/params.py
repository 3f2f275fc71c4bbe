"""What each rule type's parameters are, declared for people: one `Param` per parameter in the
module's `PARAMS` (a portfolio rule's spec builds its own from its fields).

The spec describes; `validate` decides. The back-office form is built from the spec (one field
per parameter, its help and unit beside it) and feeds the same `validate` that the API calls,
so a rule proposed through the form and one posted as JSON are judged alike.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DECIMAL = "decimal"  # a decimal string: "250000"
INTEGER = "integer"
BOOLEAN = "boolean"
CHOICE = "choice"  # one of `choices`
STRINGS = "strings"  # a list of strings
TEXT = "text"
OBJECT = "object"  # a JSON object (market access's per-account and per-user entries)
KINDS = (DECIMAL, INTEGER, BOOLEAN, CHOICE, STRINGS, TEXT, OBJECT)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    help: str
    # What validate uses when the parameter is left out; None with required=False: optional.
    default: Any = None
    required: bool = False
    positive: bool = False  # greater than zero (not merely at least `minimum`)
    minimum: Decimal | int | None = None
    maximum: Decimal | int | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    # A valid value, for a parameter without a default (tests and the form's placeholder).
    example: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if self.kind == CHOICE and not self.choices:
            raise ValueError(f"{self.name}: a choice needs its choices")

    @property
    def sample(self) -> Any:
        """A value validate accepts for this parameter on its own."""
        return self.example if self.example is not None else self.default


def spec_for(rule_type: str) -> tuple[Param, ...] | None:
    """The parameter spec of a rule type, or None for an unknown type."""
    from apps.rules.checks import REGISTRY

    entry = REGISTRY.get(rule_type) if isinstance(rule_type, str) else None
    return None if entry is None else tuple(entry.PARAMS)


def share_limit_spec(default_pct: str, what: str) -> tuple[Param, ...]:
    """The spec of `base.share_limit_params` (the concentration rules)."""
    return (
        Param(
            "max_pct",
            DECIMAL,
            f"The largest share of the portfolio {what} may take, this order included.",
            default=default_pct,
            positive=True,
            maximum=Decimal(100),
            unit="%",
        ),
        Param(
            "min_portfolio_value",
            DECIMAL,
            "Below this portfolio value concentration is not judged.",
            default="0",
            minimum=Decimal(0),
            unit="base currency",
        ),
    )
