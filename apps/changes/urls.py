"""API routes of configuration changes (under /api/v1/)."""

from django.urls import path

from apps.changes import apis

urlpatterns = [
    path("changes/", apis.ConfigChangeListProposeApi.as_view(), name="change-list"),
    path("changes/<int:change_id>/", apis.ConfigChangeDetailApi.as_view(), name="change-detail"),
    path(
        "changes/<int:change_id>/approve/",
        apis.ConfigChangeApproveApi.as_view(),
        name="change-approve",
    ),
    path(
        "changes/<int:change_id>/reject/",
        apis.ConfigChangeRejectApi.as_view(),
        name="change-reject",
    ),
]
