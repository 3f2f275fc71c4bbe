"""Page routes of the kill switch."""

from django.urls import path

from apps.killswitch import views

urlpatterns = [
    path("kill-switch/", views.KillSwitchPageView.as_view(), name="kill-switch"),
    path(
        "kill-switch/<int:switch_id>/deactivate/",
        views.KillSwitchDeactivatePageView.as_view(),
        name="kill-switch-deactivate-page",
    ),
]
