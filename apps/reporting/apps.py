from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "apps.reporting"
    label = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from django.core.checks import register

        from apps.reporting import checks
        from apps.reporting.services import report_mark_for_fill_change, report_mark_for_rerun
        from apps.trading import hooks

        # A fill booked in the period of a report already built marks it for a re-run.
        hooks.fill_booked.provide(report_mark_for_rerun)
        register(checks.firm_lei_configured)
        # So does a fill corrected or busted there.
        hooks.fill_changed.provide(report_mark_for_fill_change)
