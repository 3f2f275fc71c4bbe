"""API routes of surveillance (under /api/v1/)."""

from django.urls import path

from apps.surveillance import apis

urlpatterns = [
    path("surveillance/alerts/", apis.AlertListApi.as_view(), name="alert-list"),
    path("surveillance/alerts/<int:alert_id>/", apis.AlertDetailApi.as_view(), name="alert-detail"),
    path(
        "surveillance/alerts/<int:alert_id>/assign/",
        apis.AlertAssignApi.as_view(),
        name="alert-assign",
    ),
    path(
        "surveillance/alerts/<int:alert_id>/comment/",
        apis.AlertCommentApi.as_view(),
        name="alert-comment",
    ),
    path(
        "surveillance/alerts/<int:alert_id>/status/",
        apis.AlertStatusApi.as_view(),
        name="alert-status",
    ),
    path(
        "surveillance/alerts/<int:alert_id>/close/",
        apis.AlertCloseApi.as_view(),
        name="alert-close",
    ),
    path(
        "surveillance/alerts/<int:alert_id>/closure/reject/",
        apis.AlertClosureRejectApi.as_view(),
        name="alert-closure-reject",
    ),
    path(
        "surveillance/false-positive-rates/",
        apis.FalsePositiveRatesApi.as_view(),
        name="alert-false-positive-rates",
    ),
    path(
        "surveillance/executions/",
        apis.ExecutionListCreateApi.as_view(),
        name="execution-list",
    ),
]
