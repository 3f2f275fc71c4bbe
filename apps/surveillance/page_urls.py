"""Page routes of surveillance: the alert list and one alert with its case."""

from django.urls import path

from apps.surveillance import views

urlpatterns = [
    path("surveillance/alerts/", views.AlertListView.as_view(), name="surveillance-alerts"),
    path("surveillance/alerts/bulk/", views.AlertBulkView.as_view(), name="surveillance-bulk"),
    path(
        "surveillance/alerts/<int:alert_id>/",
        views.AlertDetailView.as_view(),
        name="surveillance-alert",
    ),
]
