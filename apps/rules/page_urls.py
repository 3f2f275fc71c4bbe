"""Page routes of the rules app (the kill switch page)."""

from django.urls import path

from apps.rules import views

urlpatterns = [
    path("kill-switch/", views.KillSwitchPageView.as_view(), name="kill-switch"),
    path(
        "kill-switch/<int:switch_id>/deactivate/",
        views.KillSwitchDeactivatePageView.as_view(),
        name="kill-switch-deactivate-page",
    ),
]
