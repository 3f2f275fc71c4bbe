"""The market's own tape beside the firm's flow: every venue's trades (prints) and quotes, as a
market-data feed or an import delivers them. Surveillance reads them for price impact, share of
volume, distance from the touch and the closing-auction price (docs/surveillance.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.trading.models import amount_field
from apps.trading.validators import validate_mic


class TradeCondition(models.TextChoices):
    REGULAR = "regular", "Regular (continuous trading)"
    OPENING_AUCTION = "opening_auction", "Opening auction print"
    CLOSING_AUCTION = "closing_auction", "Closing auction print"
    OFF_BOOK = "off_book", "Off book (negotiated, reported)"


class MarketTrade(models.Model):
    """One print on a venue: a trade between any two parties, the firm's or not."""

    instrument = models.ForeignKey(
        "trading.Instrument", on_delete=models.PROTECT, related_name="market_trades"
    )
    executed_at = models.DateTimeField()
    price = amount_field()
    quantity = amount_field()
    venue = models.CharField("venue MIC", max_length=4, validators=[validate_mic])
    trade_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The venue's id of the print; a print with an id is recorded once per venue.",
    )
    condition = models.CharField(
        max_length=20, choices=TradeCondition.choices, default=TradeCondition.REGULAR
    )
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-executed_at", "-id"]
        indexes = [models.Index(fields=["instrument", "executed_at"], name="mkt_trade_instr_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["venue", "trade_id"],
                condition=~Q(trade_id=""),
                name="mkt_trade_id_once_per_venue",
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="mkt_trade_price_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="mkt_trade_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.venue} {self.quantity} @ {self.price} ({self.executed_at:%Y-%m-%d %H:%M:%S})"


class MarketQuote(models.Model):
    """A venue's best bid and offer for an instrument, from `quoted_at` until its next quote."""

    instrument = models.ForeignKey(
        "trading.Instrument", on_delete=models.PROTECT, related_name="market_quotes"
    )
    quoted_at = models.DateTimeField()
    bid = amount_field()
    bid_size = amount_field()
    ask = amount_field()
    ask_size = amount_field()
    venue = models.CharField("venue MIC", max_length=4, validators=[validate_mic])
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-quoted_at", "-id"]
        indexes = [models.Index(fields=["instrument", "quoted_at"], name="mkt_quote_instr_time")]
        constraints = [
            models.CheckConstraint(condition=Q(bid__gt=0), name="mkt_quote_bid_positive"),
            models.CheckConstraint(
                condition=Q(ask__gte=models.F("bid")), name="mkt_quote_not_crossed"
            ),
            models.CheckConstraint(condition=Q(bid_size__gt=0), name="mkt_quote_bid_size_positive"),
            models.CheckConstraint(condition=Q(ask_size__gt=0), name="mkt_quote_ask_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.venue} {self.bid} / {self.ask} ({self.quoted_at:%Y-%m-%d %H:%M:%S})"
