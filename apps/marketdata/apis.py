"""The market's tape over HTTP: the feed posts batches of prints and quotes (the Feed service
identity only); Risk Managers and above may list them.

A batch is a JSON object holding a list, `{"trades": [...]}` or `{"quotes": [...]}`, of at most
MARKET_DATA_BATCH_MAX rows; every row is checked and one bad row refuses the whole batch (400,
nothing stored). Answers 201 with the counts when anything was stored, 200 when every row was
a duplicate of one already recorded."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from apps.core.errors import ValidationFailed
from apps.core.fields import AmountField
from apps.core.serializers import StrictInputSerializer
from apps.marketdata import selectors
from apps.marketdata.filters import MarketQuoteFilter, MarketTradeFilter
from apps.marketdata.serializers import (
    MarketQuoteInputSerializer,
    MarketTradeInputSerializer,
    rows_validated,
)
from apps.marketdata.services import market_quotes_record, market_trades_record
from apps.rbac.roles import Role, ServiceRole

READ_ROLE = Role.RISK_MANAGER


class MarketTradeBatchInputSerializer(StrictInputSerializer):
    """The documented body of a batch of prints (each row is read on its own, so that an error
    names its row)."""

    trades = MarketTradeInputSerializer(many=True)


class MarketQuoteBatchInputSerializer(StrictInputSerializer):
    """The documented body of a batch of quotes."""

    quotes = MarketQuoteInputSerializer(many=True)


class BatchOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Rows in the batch.")
    recorded = serializers.IntegerField(help_text="Rows stored now.")
    duplicates = serializers.IntegerField(help_text="Rows recorded already (sent before).")


class MarketTradeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instrument = serializers.CharField(source="instrument.symbol")
    executed_at = serializers.DateTimeField()
    price = AmountField()
    quantity = AmountField()
    venue = serializers.CharField()
    trade_id = serializers.CharField()
    condition = serializers.CharField()
    received_at = serializers.DateTimeField()


class MarketQuoteOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instrument = serializers.CharField(source="instrument.symbol")
    quoted_at = serializers.DateTimeField()
    bid = AmountField()
    bid_size = AmountField()
    ask = AmountField()
    ask_size = AmountField()
    venue = serializers.CharField()
    received_at = serializers.DateTimeField()


def _rows(items: list, key: str, item_serializer) -> list[dict]:
    """Each row of the batch read by `item_serializer`: every bad row named as
    `key[index].field`, and a 400 if any."""
    rows, errors = rows_validated(items, item_serializer, lambda i: f"{key}[{i}]")
    if errors:
        raise ValidationFailed(
            f"{len({k.split('.')[0] for k in errors})} of the {key} are not valid; "
            "nothing was stored.",
            details=errors,
        )
    return rows


def _answer(result) -> Response:
    code = status.HTTP_201_CREATED if result.recorded else status.HTTP_200_OK
    return Response(BatchOutputSerializer(result.as_dict()).data, status=code)


class MarketTradeListCreateApi(ListAPIView):
    """The market's prints: POST a batch (Feed only), GET the list (Risk Manager and above),
    newest first, filtered by instrument, venue, condition, since and until."""

    required_roles = {"GET": READ_ROLE, "POST": ServiceRole.FEED}
    serializer_class = MarketTradeOutputSerializer
    filterset_class = MarketTradeFilter

    class InputSerializer(StrictInputSerializer):
        trades = serializers.ListField(child=serializers.JSONField())

    def get_queryset(self):
        return selectors.market_trade_list()

    @extend_schema(
        request=MarketTradeBatchInputSerializer,
        responses={201: BatchOutputSerializer, 200: BatchOutputSerializer},
        examples=[
            OpenApiExample(
                "Two prints, the second the closing auction",
                value={
                    "trades": [
                        {
                            "instrument": "AAPL",
                            "executed_at": "2026-11-20T20:59:58.120000Z",
                            "price": "189.52",
                            "quantity": "300",
                            "venue": "XNAS",
                            "trade_id": "XNAS-T-88121",
                        },
                        {
                            "instrument": "AAPL",
                            "executed_at": "2026-11-20T21:00:00Z",
                            "price": "189.60",
                            "quantity": "125000",
                            "venue": "XNAS",
                            "trade_id": "XNAS-T-88190",
                            "condition": "closing_auction",
                        },
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = _rows(serializer.validated_data["trades"], "trades", MarketTradeInputSerializer)
        return _answer(market_trades_record(trades=rows, actor=request.user, source="api"))


class MarketQuoteListCreateApi(ListAPIView):
    """Venues' best bids and offers: POST a batch (Feed only), GET the list (Risk Manager and
    above), newest first, filtered by instrument, venue, since and until."""

    required_roles = {"GET": READ_ROLE, "POST": ServiceRole.FEED}
    serializer_class = MarketQuoteOutputSerializer
    filterset_class = MarketQuoteFilter

    class InputSerializer(StrictInputSerializer):
        quotes = serializers.ListField(child=serializers.JSONField())

    def get_queryset(self):
        return selectors.market_quote_list()

    @extend_schema(
        request=MarketQuoteBatchInputSerializer,
        responses={201: BatchOutputSerializer, 200: BatchOutputSerializer},
        examples=[
            OpenApiExample(
                "A quote",
                value={
                    "quotes": [
                        {
                            "instrument": "AAPL",
                            "quoted_at": "2026-11-20T20:59:58.100000Z",
                            "bid": "189.50",
                            "bid_size": "400",
                            "ask": "189.53",
                            "ask_size": "300",
                            "venue": "XNAS",
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = _rows(serializer.validated_data["quotes"], "quotes", MarketQuoteInputSerializer)
        return _answer(market_quotes_record(quotes=rows, actor=request.user, source="api"))
