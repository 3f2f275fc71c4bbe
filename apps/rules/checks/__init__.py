"""One module per rule type; REGISTRY maps the type to its module.

Portfolio rule types (evaluated by the monitor, not the engine) have only their parameters'
`validate` here, in `portfolio.py`.
"""

from importlib import import_module

from apps.rules.models import RuleType


def _load() -> dict:
    registry = {}
    for rule_type in RuleType.values:
        try:
            registry[rule_type] = import_module(f"apps.rules.checks.{rule_type}")
        except ModuleNotFoundError as exc:
            if exc.name != f"apps.rules.checks.{rule_type}":
                raise
    from apps.rules.checks.portfolio import SPECS

    registry.update(SPECS)
    return registry


REGISTRY = _load()
