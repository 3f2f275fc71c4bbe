"""API routes of the market's tape (under /api/v1/)."""

from django.urls import path

from apps.marketdata import apis

urlpatterns = [
    path(
        "market-data/trades/",
        apis.MarketTradeListCreateApi.as_view(),
        name="market-trade-list",
    ),
    path(
        "market-data/quotes/",
        apis.MarketQuoteListCreateApi.as_view(),
        name="market-quote-list",
    ),
]
