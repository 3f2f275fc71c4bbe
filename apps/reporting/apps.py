from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "apps.reporting"
    label = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from apps.reporting.services import report_mark_for_fill_change, report_mark_for_rerun
        from apps.trading import hooks

        # A fill booked in the period of a report already built marks it for a re-run.
        hooks.fill_booked.provide(report_mark_for_rerun)
        # So does a fill corrected or busted there.
        hooks.fill_changed.provide(report_mark_for_fill_change)
