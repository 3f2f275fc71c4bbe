"""Page routes of reporting."""

urlpatterns: list = []
