"""Back office for rules (maker-checker); the part lives in its module."""

from apps.rules import admin_rules  # noqa: F401 - it registers the models
