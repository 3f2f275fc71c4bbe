"""Page routes of monitoring: the dashboard, its data, and the Prometheus endpoint."""

from django.urls import path

from apps.monitoring import views

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="compliance-dashboard"),
    path("dashboard/data/", views.DashboardDataView.as_view(), name="compliance-dashboard-data"),
    path("metrics", views.metrics, name="metrics"),
]
