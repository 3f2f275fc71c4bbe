"""The rule engine: a cached, compiled rule set evaluated against one order's context.

Pure: no database here. The gate (`gate.py`) builds the context in batched reads (`reads.py`),
calls `evaluate`, and stores the results. Every applicable rule is evaluated (no stopping at the
first failure) so that the answer explains everything that is wrong with the order.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from types import ModuleType
from typing import Any

from apps.rules.checks import REGISTRY
from apps.rules.checks.base import CheckContext, Outcome
from apps.rules.models import PORTFOLIO_RULE_TYPES, RuleAction, RuleScope, RuleStatus

logger = logging.getLogger(__name__)

ACCEPTED, REJECTED, PENDING = "accepted", "rejected", "pending_approval"
# Outcomes that say the data a rule needs is missing, not that the order breaks it: like a rule
# that errors, they reject whatever the rule's action (a hold or warn rule included); a rule in
# testing only records them.
FAIL_CLOSED_CODES = frozenset({"fx_rate_unavailable"})


@dataclass(frozen=True)
class CompiledRule:
    id: int
    code: str
    rule_type: str
    params: dict[str, Any]
    scope: str
    scope_value: str
    action: str
    shadow: bool  # status "testing": evaluated and recorded, never blocks
    regulation: str
    priority: int
    effective_from: datetime | None
    effective_until: datetime | None
    module: ModuleType

    def applies_to(self, ctx: CheckContext) -> bool:
        if self.effective_from and ctx.now < self.effective_from:
            return False
        if self.effective_until and ctx.now >= self.effective_until:
            return False
        order = ctx.order
        if self.scope == RuleScope.FIRM:
            return True
        if self.scope == RuleScope.ACCOUNT:
            return order.account_code == self.scope_value
        if self.scope == RuleScope.INSTRUMENT:
            return order.instrument.symbol == self.scope_value
        if self.scope == RuleScope.SECTOR:
            return order.instrument.sector.lower() == self.scope_value.lower()
        if self.scope == RuleScope.ASSET_CLASS:
            return order.instrument.asset_class == self.scope_value
        return True  # an unknown scope applies everywhere: fail closed


@dataclass(frozen=True)
class RuleSet:
    version: int
    rules: tuple[CompiledRule, ...]

    @cached_property
    def types(self) -> frozenset[str]:
        return frozenset(r.rule_type for r in self.rules)

    @cached_property
    def duplicate_window(self) -> int | None:
        """The longest window of the duplicate-order rules (their lookup joins the gate's
        batched reads), or None."""
        windows = [
            r.params.get("window_seconds") for r in self.rules if r.rule_type == "duplicate_order"
        ]
        return max((w for w in windows if isinstance(w, int)), default=None)

    def market_band(self, ctx: CheckContext) -> Decimal | None:
        """A market order's protection band (%): the narrowest `market_band_pct` of the price
        collars in force (not shadow) that apply to it, so that every collar's protection
        holds; None for a limit order or when no collar applies."""
        if ctx.order.order_type != "market":
            return None
        bands = [
            Decimal(r.params["market_band_pct"])
            for r in self.rules
            if r.rule_type == "price_collar"
            and not r.shadow
            and "market_band_pct" in r.params
            and r.applies_to(ctx)
        ]
        return min(bands, default=None)


def compile_rules(rows, version: int) -> RuleSet:
    """Active and testing order rules (portfolio rules are the monitor's), parameters
    validated once, in priority order.

    A stored rule whose parameters no longer validate is compiled as a rule that always fails
    (fail closed), not dropped.
    """
    compiled = []
    for row in rows:
        if row.status not in (RuleStatus.ACTIVE, RuleStatus.TESTING):
            continue
        if row.rule_type in PORTFOLIO_RULE_TYPES:
            continue  # the monitor's, on whole books; not an order check
        module = REGISTRY.get(row.rule_type)
        try:
            if module is None:
                raise ValueError(f"no check for rule type {row.rule_type!r}")
            if not isinstance(row.parameters, dict):
                raise ValueError("parameters must be a JSON object")
            params = module.validate(dict(row.parameters))
        except Exception as exc:  # noqa: BLE001 - becomes a failing rule below
            logger.error("rule does not compile", extra={"rule": row.code, "error": str(exc)})
            params, module = {"error": str(exc)}, _BROKEN
        compiled.append(
            CompiledRule(
                id=row.pk,
                code=row.code,
                rule_type=row.rule_type,
                params=params,
                scope=row.scope,
                scope_value=row.scope_value,
                action=row.action,
                shadow=row.status == RuleStatus.TESTING,
                regulation=row.regulation,
                priority=row.priority,
                effective_from=row.effective_from,
                effective_until=row.effective_until,
                module=module,
            )
        )
    compiled.sort(key=lambda r: (r.priority, r.code))
    return RuleSet(version, tuple(compiled))


class _Broken:
    """Stands in for a rule that cannot run: it always fails, so the order is not accepted."""

    @staticmethod
    def evaluate(params: dict, ctx: CheckContext) -> Outcome:
        return Outcome(False, f"The rule cannot run: {params.get('error')}", code="rule_error")


_BROKEN = _Broken()


def _result(rule: CompiledRule, outcome: Outcome) -> dict[str, Any]:
    if outcome.skipped:
        status = "skipped"
    elif outcome.passed:
        status = "pass"
    elif rule.shadow or rule.action == RuleAction.WARN:
        status = "warn"
    else:
        status = "fail"
    result = {
        "rule": rule.code,
        "rule_type": rule.rule_type,
        "status": status,
        "observed": _text(outcome.observed),
        "threshold": _text(outcome.threshold),
        "message": outcome.message,
        "regulation": rule.regulation,
        "code": outcome.code or ("ok" if outcome.passed else "failed"),
        "action": rule.action,
    }
    if rule.shadow:
        result["shadow"] = True
    return result


def _text(value) -> str | None:
    return None if value is None else str(value)


def evaluate(
    ruleset: RuleSet, ctx: CheckContext, pre_checks: list[dict] | None = None
) -> tuple[str, list[dict]]:
    """Every applicable rule's result, and the decision.

    Rejected when any blocking rule with action "reject" fails (or any rule errors: fail
    closed); pending approval when only "hold" rules fail; accepted otherwise. Shadow (testing)
    and "warn" rules are recorded and never block.
    """
    results = list(pre_checks or [])
    for rule in ruleset.rules:
        if not rule.applies_to(ctx):
            continue
        try:
            outcome = rule.module.evaluate(rule.params, ctx)
        except Exception as exc:  # noqa: BLE001 - fail closed with the reason
            logger.exception("rule raised", extra={"rule": rule.code})
            outcome = Outcome(
                False, f"The rule failed to run ({type(exc).__name__}).", code="rule_error"
            )
            if not rule.shadow:
                results.append({**_result(rule, outcome), "status": "fail", "action": "reject"})
                continue
        if outcome.code in FAIL_CLOSED_CODES and not outcome.passed and not rule.shadow:
            results.append({**_result(rule, outcome), "status": "fail", "action": "reject"})
            continue
        results.append(_result(rule, outcome))
    return decide(results), results


def decide(results: list[dict]) -> str:
    blocking = [r for r in results if r["status"] == "fail" and not r.get("shadow")]
    if any(r["action"] == RuleAction.REJECT for r in blocking):
        return REJECTED
    if any(r["action"] == RuleAction.HOLD for r in blocking):
        return PENDING
    return ACCEPTED
