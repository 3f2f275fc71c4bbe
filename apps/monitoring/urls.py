"""API routes of monitoring (under /api/v1/)."""

urlpatterns: list = []
