"""API routes of reporting (under /api/v1/)."""

from django.urls import path

from apps.reporting import apis

urlpatterns = [
    path("reports/", apis.ReportListCreateApi.as_view(), name="report-list"),
    path("reports/<int:report_id>/", apis.ReportDetailApi.as_view(), name="report-detail"),
    path(
        "reports/<int:report_id>/download/",
        apis.ReportDownloadApi.as_view(),
        name="report-download",
    ),
    path("reports/<int:report_id>/status/", apis.ReportStatusApi.as_view(), name="report-status"),
    path(
        "reports/<int:report_id>/transactions/",
        apis.ReportTransactionListApi.as_view(),
        name="report-transactions",
    ),
    path(
        "reports/<int:report_id>/feedback/",
        apis.ReportFeedbackApi.as_view(),
        name="report-feedback",
    ),
]
