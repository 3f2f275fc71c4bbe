"""One module per rule type; REGISTRY maps the type to its module."""

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
    return registry


REGISTRY = _load()
