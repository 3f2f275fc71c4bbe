"""Page routes of monitoring."""

urlpatterns: list = []
