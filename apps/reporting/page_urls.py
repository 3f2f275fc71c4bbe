"""Page routes of reporting: the downloads page (with the generate-now form) and downloads."""

from django.urls import path

from apps.reporting import stor_views, views

urlpatterns = [
    path("reports/", views.ReportListView.as_view(), name="reports-list"),
    path("reports/<int:pk>/", views.ReportDetailView.as_view(), name="reports-detail"),
    path("reports/<int:pk>/download/", views.ReportDownloadView.as_view(), name="reports-download"),
    path("reports/stors/", stor_views.StorListView.as_view(), name="stors-list"),
    path("reports/stors/<int:pk>/", stor_views.StorDetailView.as_view(), name="stors-detail"),
]
