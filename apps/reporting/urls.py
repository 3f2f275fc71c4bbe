"""API routes of reporting (under /api/v1/)."""

from django.urls import path

from apps.reporting import apis, stor_apis

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
    path("stors/", stor_apis.StorListCreateApi.as_view(), name="stor-list"),
    path("stors/<int:stor_id>/", stor_apis.StorDetailApi.as_view(), name="stor-detail"),
    path(
        "stors/<int:stor_id>/review-request/",
        stor_apis.StorReviewRequestApi.as_view(),
        name="stor-review-request",
    ),
    path("stors/<int:stor_id>/review/", stor_apis.StorReviewApi.as_view(), name="stor-review"),
]
