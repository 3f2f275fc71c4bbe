"""Reading the market's tape: the lists, and volume by interval (an indexed aggregate over
(instrument, executed_at): no rollup table to keep in step with late or repeated prints)."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncMinute

from apps.marketdata.models import MarketQuote, MarketTrade


def market_trade_list():
    return MarketTrade.objects.select_related("instrument").order_by("-executed_at", "-id")


def market_quote_list():
    return MarketQuote.objects.select_related("instrument").order_by("-quoted_at", "-id")


def market_volume(*, instrument_id: int, start: datetime, end: datetime) -> Decimal:
    """The market's traded quantity in [start, end)."""
    total = MarketTrade.objects.filter(
        instrument_id=instrument_id, executed_at__gte=start, executed_at__lt=end
    ).aggregate(v=Sum("quantity"))["v"]
    return total or Decimal(0)


def market_volume_by_minute(*, instrument_id: int, start: datetime, end: datetime) -> list[dict]:
    """One row per minute with prints in [start, end): minute, volume, trades, low, high."""
    return list(
        MarketTrade.objects.filter(
            instrument_id=instrument_id, executed_at__gte=start, executed_at__lt=end
        )
        .annotate(minute=TruncMinute("executed_at"))
        .values("minute")
        .annotate(volume=Sum("quantity"), trades=Count("id"), low=Min("price"), high=Max("price"))
        .order_by("minute")
    )


def market_data_exists() -> bool:
    return MarketTrade.objects.exists() or MarketQuote.objects.exists()
