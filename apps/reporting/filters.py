"""The one FilterSet of reports: the API list and the reports page share it."""

import django_filters

from apps.reporting.models import RegulatoryReport, ReportFormat, ReportStatus, ReportType


class ReportFilter(django_filters.FilterSet):
    report_type = django_filters.ChoiceFilter(choices=ReportType.choices)
    # not "format": DRF reads ?format= as the choice of renderer
    file_format = django_filters.ChoiceFilter(field_name="format", choices=ReportFormat.choices)
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)
    regulatory_entity = django_filters.CharFilter(field_name="regulatory_entity__code")
    period_from = django_filters.DateFilter(
        field_name="period_end", lookup_expr="gte", label="Period ends on or after"
    )
    period_to = django_filters.DateFilter(
        field_name="period_start", lookup_expr="lte", label="Period starts on or before"
    )
    needs_rerun = django_filters.BooleanFilter(
        field_name="stale_since",
        lookup_expr="isnull",
        exclude=True,
        label="A fill was booked in its period after it was built",
    )

    class Meta:
        model = RegulatoryReport
        fields = ["report_type", "file_format", "status", "regulatory_entity"]
