"""API routes of the kill switch (under /api/v1/)."""

urlpatterns: list = []
