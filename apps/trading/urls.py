from django.urls import path

from apps.trading import apis

urlpatterns = [
    path("accounts/", apis.AccountListApi.as_view(), name="account-list"),
    path("instruments/", apis.InstrumentListApi.as_view(), name="instrument-list"),
    path("positions/", apis.PositionListApi.as_view(), name="position-list"),
    path("locates/", apis.LocateListCreateApi.as_view(), name="locate-list"),
    path("fills/<int:fill_id>/correct/", apis.FillCorrectApi.as_view(), name="fill-correct"),
    path("fills/<int:fill_id>/bust/", apis.FillBustApi.as_view(), name="fill-bust"),
    path("fx-rates/", apis.FxRateListCreateApi.as_view(), name="fx-rate-list"),
]
