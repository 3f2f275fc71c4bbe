"""API routes of the kill switch (under /api/v1/)."""

from django.urls import path

from apps.rules import killswitch_apis

urlpatterns = [
    path(
        "kill-switch/",
        killswitch_apis.KillSwitchListCreateApi.as_view(),
        name="kill-switch-list",
    ),
    path(
        "kill-switch/<int:switch_id>/deactivate/",
        killswitch_apis.KillSwitchDeactivateApi.as_view(),
        name="kill-switch-deactivate",
    ),
]
