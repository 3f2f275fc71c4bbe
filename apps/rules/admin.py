"""Back office for rules (maker-checker) and the kill switch; each part lives in its module."""

from apps.rules import admin_killswitch, admin_rules  # noqa: F401 - they register the models
