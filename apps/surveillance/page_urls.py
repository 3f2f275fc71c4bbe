"""Page routes of surveillance."""

urlpatterns: list = []
