"""API routes of the kill switch (under /api/v1/)."""

from django.urls import path

from apps.killswitch import apis

urlpatterns = [
    path(
        "kill-switch/",
        apis.KillSwitchListCreateApi.as_view(),
        name="kill-switch-list",
    ),
    path(
        "kill-switch/<int:switch_id>/deactivate/",
        apis.KillSwitchDeactivateApi.as_view(),
        name="kill-switch-deactivate",
    ),
]
