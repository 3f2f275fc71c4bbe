"""The parameters of the portfolio rules (their thresholds are data, like every rule's).

The monitor (apps.monitoring) measures each book and compares the measure with `limit`: above a
maximum, or below a minimum, is a violation. Each rule also names the severity its violation is
routed with.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from apps.rules.checks.base import (
    ZERO,
    ParameterError,
    decimal_param,
    int_param,
    no_extra_params,
)
from apps.rules.checks.params import CHOICE, DECIMAL, INTEGER, Param
from apps.rules.models import PortfolioRuleType

SEVERITIES = ("critical", "warning", "info")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PortfolioRuleSpec:
    rule_type: str
    limit: str  # the parameter holding the threshold
    default: str
    bound: str  # "max": a measure above the limit violates; "min": below
    unit: str  # how the measure reads: "%", "% of NAV", "bp", "" (an index)
    severity: str
    limit_max: Decimal | None = HUNDRED
    # name -> (default, minimum, maximum) of the whole-number parameters
    ints: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # name -> (default, minimum, maximum) of the other decimal parameters
    decimals: dict[str, tuple[str, Decimal, Decimal | None]] = field(default_factory=dict)

    @property
    def PARAMS(self) -> tuple[Param, ...]:  # noqa: N802 - the name every check module uses
        unit = self.unit or "index"
        bound = "above" if self.bound == "max" else "below"
        params = [
            Param(
                self.limit,
                DECIMAL,
                f"A measure {bound} this is a violation.",
                default=self.default,
                positive=True,
                maximum=self.limit_max,
                unit=unit,
            )
        ]
        for name, (default, minimum, maximum) in self.decimals.items():
            params.append(
                Param(
                    name,
                    DECIMAL,
                    DECIMAL_HELP.get(name, ""),
                    default=default,
                    minimum=minimum,
                    maximum=maximum,
                    unit=UNITS.get(name, ""),
                )
            )
        for name, (default, minimum, maximum) in self.ints.items():
            params.append(
                Param(
                    name,
                    INTEGER,
                    INT_HELP.get(name, ""),
                    default=default,
                    minimum=minimum,
                    maximum=maximum,
                    unit=UNITS.get(name, ""),
                )
            )
        params.append(
            Param(
                "severity",
                CHOICE,
                "The severity a violation is routed with.",
                default=self.severity,
                choices=SEVERITIES,
            )
        )
        return tuple(params)

    def validate(self, params: dict) -> dict:
        allowed = {self.limit, "severity", *self.ints, *self.decimals}
        no_extra_params(params, allowed)
        limit = decimal_param(params, self.limit, default=self.default, positive=True)
        if self.limit_max is not None and limit > self.limit_max:
            raise ParameterError(f"{self.limit} must be at most {self.limit_max}")
        out = {self.limit: str(limit)}
        for name, (default, minimum, maximum) in self.decimals.items():
            value = decimal_param(params, name, default=default, minimum=minimum, maximum=maximum)
            out[name] = str(value)
        for name, (default, minimum, maximum) in self.ints.items():
            out[name] = int_param(params, name, default=default, minimum=minimum, maximum=maximum)
        severity = params.get("severity", self.severity)
        if severity not in SEVERITIES:
            raise ParameterError(f"severity must be one of {', '.join(SEVERITIES)}")
        out["severity"] = severity
        return out


DECIMAL_HELP = {
    "confidence": "The confidence level of the expected shortfall.",
    "min_portfolio_value": "Below this portfolio value the book is not judged.",
}
INT_HELP = {
    "lookback_days": "Trading days of history the measure looks back over.",
    "window_minutes": "The window of fills the shortfall is measured over.",
    "min_fills": "Fewer fills than this in the window: not judged.",
    "window_hours": "The window the uptime is measured over.",
    "max_age_seconds": "A reference price older than this is stale.",
}
UNITS = {
    "confidence": "%",
    "min_portfolio_value": "base currency",
    "lookback_days": "days",
    "window_minutes": "minutes",
    "min_fills": "fills",
    "window_hours": "hours",
    "max_age_seconds": "seconds",
}

T = PortfolioRuleType
_FLOOR = {"min_portfolio_value": ("0", ZERO, None)}

SPECS: dict[str, PortfolioRuleSpec] = {
    spec.rule_type: spec
    for spec in (
        PortfolioRuleSpec(
            T.EXPECTED_SHORTFALL,
            "max_pct",
            "10",
            "max",
            "% of NAV",
            "critical",
            ints={"lookback_days": (250, 20, 2520)},
            decimals={"confidence": ("97.5", Decimal(50), Decimal("99.9")), **_FLOOR},
        ),
        PortfolioRuleSpec(
            T.MAX_DRAWDOWN,
            "max_pct",
            "15",
            "max",
            "%",
            "critical",
            ints={"lookback_days": (250, 2, 2520)},
            decimals=_FLOOR,
        ),
        PortfolioRuleSpec(
            T.POSITION_WEIGHT, "max_pct", "5", "max", "%", "warning", decimals=_FLOOR
        ),
        PortfolioRuleSpec(T.SECTOR_WEIGHT, "max_pct", "25", "max", "%", "warning", decimals=_FLOOR),
        PortfolioRuleSpec(
            T.HERFINDAHL, "max_index", "0.30", "max", "", "warning", Decimal(1), decimals=_FLOOR
        ),
        PortfolioRuleSpec(
            T.IMPLEMENTATION_SHORTFALL,
            "max_bp",
            "50",
            "max",
            "bp",
            "warning",
            None,
            ints={"window_minutes": (1440, 1, 43200), "min_fills": (1, 1, 100000)},
        ),
        PortfolioRuleSpec(
            T.MONITOR_UPTIME,
            "min_pct",
            "99.5",
            "min",
            "%",
            "critical",
            ints={"window_hours": (24, 1, 720)},
        ),
        PortfolioRuleSpec(
            T.DATA_QUALITY,
            "min_pct",
            "99",
            "min",
            "%",
            "warning",
            ints={"max_age_seconds": (900, 1, 7 * 86400)},
        ),
    )
}
