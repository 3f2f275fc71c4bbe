from itertools import count

from apps.rules import gate
from apps.rules.models import ComplianceRule, RuleStatus

_codes = count(1)


def make_rule(
    rule_type: str,
    params: dict | None = None,
    *,
    action: str = "reject",
    status: str = RuleStatus.ACTIVE,
    code: str | None = None,
    **fields,
):
    """An active rule straight into the table (tests of the engine, not of maker-checker)."""
    rule = ComplianceRule.objects.create(
        code=code or f"T-{rule_type[:12].upper()}-{next(_codes)}",
        name=rule_type,
        rule_type=rule_type,
        parameters=params or {},
        action=action,
        status=status,
        regulation=fields.pop("regulation", "SEC 15c3-5(c)(1)(ii)"),
        **fields,
    )
    gate.ruleset_bump()
    return rule
