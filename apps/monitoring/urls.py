"""API routes of monitoring (under /api/v1/)."""

from django.urls import path

from apps.monitoring import apis

urlpatterns = [
    path("compliance/status/", apis.ComplianceStatusApi.as_view(), name="compliance-status"),
]
