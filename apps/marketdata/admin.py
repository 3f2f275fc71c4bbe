"""The market's tape in the back office: read only (it is written by the feed and the import)."""

from django.contrib import admin

from apps.marketdata.models import MarketQuote, MarketTrade
from apps.rbac.admin import ReadOnlyAdminMixin


@admin.register(MarketTrade)
class MarketTradeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "executed_at",
        "instrument",
        "price",
        "quantity",
        "venue",
        "trade_id",
        "condition",
        "received_at",
    ]
    list_filter = ["condition", "venue"]
    list_select_related = ["instrument"]
    search_fields = ["trade_id", "instrument__symbol"]
    date_hierarchy = "executed_at"


@admin.register(MarketQuote)
class MarketQuoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["quoted_at", "instrument", "bid", "bid_size", "ask", "ask_size", "venue"]
    list_filter = ["venue"]
    list_select_related = ["instrument"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "quoted_at"
