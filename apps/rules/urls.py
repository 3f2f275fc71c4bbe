from django.urls import path

from apps.rules import apis

urlpatterns = [
    path("orders/", apis.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/basket/", apis.OrderBasketSubmitApi.as_view(), name="order-basket"),
    path("orders/<int:order_id>/", apis.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:order_id>/fills/", apis.OrderFillApi.as_view(), name="order-fills"),
    path("orders/<int:order_id>/cancel/", apis.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:order_id>/amend/", apis.OrderAmendApi.as_view(), name="order-amend"),
    path("pretrade/check/", apis.PretradeCheckApi.as_view(), name="pretrade-check"),
]
