"""Reads of regulatory reports."""

from django.db.models import QuerySet

from apps.reporting.models import RegulatoryReport


def report_list() -> QuerySet[RegulatoryReport]:
    """Every report (Viewers and above read them all), newest first."""
    return RegulatoryReport.objects.select_related("generated_by", "regulatory_entity").order_by(
        "-generated_at", "-id"
    )


def report_get(*, report_id: int) -> RegulatoryReport | None:
    return report_list().filter(pk=report_id).first()
