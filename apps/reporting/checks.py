"""System checks of the reporting settings (run by check, migrate, runserver)."""

from django.conf import settings
from django.core.checks import Error, Warning

from apps.reporting.identifiers import firm_lei_problem


def firm_lei_configured(app_configs=None, **kwargs) -> list:
    """REPORTING_FIRM_LEI: a valid LEI, required when DEBUG is off (MiFIR reports carry it as
    executing and submitting entity)."""
    problem = firm_lei_problem(settings.REPORTING_FIRM_LEI)
    if problem is None:
        return []
    if not settings.REPORTING_FIRM_LEI and settings.DEBUG:
        return [
            Warning(
                problem,
                hint="Set REPORTING_FIRM_LEI to build MiFIR transaction reports.",
                id="reporting.W001",
            )
        ]
    return [
        Error(
            problem,
            hint="Set REPORTING_FIRM_LEI to the firm's ISO 17442 LEI (required when DEBUG is off).",
            id="reporting.E001",
        )
    ]
