"""Page routes of the audit trail."""

from django.urls import path

from apps.audit import views

urlpatterns = [
    path("audit/", views.AuditTrailView.as_view(), name="audit-trail"),
]
