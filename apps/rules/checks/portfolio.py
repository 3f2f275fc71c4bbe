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
