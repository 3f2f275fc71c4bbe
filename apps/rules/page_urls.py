"""Page routes of the rules app (the kill switch page)."""

urlpatterns: list = []
