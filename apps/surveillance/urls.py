"""API routes of surveillance (under /api/v1/)."""

urlpatterns: list = []
