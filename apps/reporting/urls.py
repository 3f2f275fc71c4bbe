"""API routes of reporting (under /api/v1/)."""

urlpatterns: list = []
