"""Reference data, positions, locates and FX rates. Thin: selector, filter, serializer; the
writes here (a locate, an FX rate) call their services."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from apps.core.fields import AmountField, Rfc3339Field, TextOnlyField
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.filters import (
    AccountFilter,
    FxRateFilter,
    InstrumentFilter,
    LocateFilter,
    PositionFilter,
)
from apps.trading.services import account_and_instrument_known, fx_rate_record, locate_record


class AccountListApi(ListAPIView):
    required_role = Role.VIEWER
    filterset_class = AccountFilter

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        beneficial_owner = serializers.CharField(source="beneficial_owner.name")
        beneficial_owner_lei = serializers.CharField(source="beneficial_owner.lei")
        base_currency = serializers.CharField()
        credit_limit = AmountField()
        lei = serializers.CharField()
        is_market_maker = serializers.BooleanField()
        is_active = serializers.BooleanField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        return selectors.account_list(user=self.request.user)


class InstrumentListApi(ListAPIView):
    required_role = Role.VIEWER
    filterset_class = InstrumentFilter

    class OutputSerializer(serializers.Serializer):
        symbol = serializers.CharField()
        isin = serializers.CharField()
        mic = serializers.CharField()
        name = serializers.CharField()
        asset_class = serializers.CharField()
        sector = serializers.CharField()
        currency = serializers.CharField()
        cfi = serializers.CharField()
        issuer = serializers.CharField()
        underlying = serializers.CharField(
            source="underlying.symbol", allow_null=True, default=None
        )
        lot_size = AmountField()
        tick_size = AmountField()
        multiplier = AmountField(
            help_text="Contract size: every notional is quantity x price x multiplier."
        )
        reference_price = AmountField(source="latest_price", allow_null=True)
        reference_price_as_of = serializers.DateTimeField(
            source="latest_price_as_of", allow_null=True
        )
        is_active = serializers.BooleanField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        return selectors.instrument_list()


class PositionListApi(ListAPIView):
    required_role = Role.VIEWER
    filterset_class = PositionFilter

    class OutputSerializer(serializers.Serializer):
        account = serializers.CharField(source="account.code")
        instrument = serializers.CharField(source="instrument.symbol")
        quantity = AmountField()
        average_cost = AmountField()
        realised_pnl = AmountField()
        updated_at = serializers.DateTimeField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        return selectors.position_list(user=self.request.user)


class LocateOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="What a short sale names in metadata.locate_id.")
    account = serializers.CharField(source="account.code")
    instrument = serializers.CharField(source="instrument.symbol")
    lender = serializers.CharField()
    reference = serializers.CharField()
    quantity = AmountField()
    used_quantity = AmountField(help_text="Used by the short sales that name it.")
    remaining_quantity = AmountField()
    expires_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()


class LocateListCreateApi(ListAPIView):
    """Locates (SEC Reg SHO 203(b)(1)): GET lists them (Viewer), POST records one (Trader).
    A short sale of a US equity names one in `metadata.locate_id`; each short sale naming it
    uses its quantity while it works and what it filled once it ends. 400 for an unknown or
    inactive account or instrument, a derivative, a quantity that is not above zero, an expiry
    that has passed; 403 `not_entitled` for an account the user may not trade."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.TRADER}
    serializer_class = LocateOutputSerializer
    filterset_class = LocateFilter

    class InputSerializer(serializers.Serializer):
        account = serializers.CharField(max_length=32)
        instrument = serializers.CharField(max_length=32, help_text="Symbol or ISIN.")
        lender = TextOnlyField(max_length=200)
        reference = TextOnlyField(max_length=64, help_text="The lender's locate reference.")
        quantity = AmountField(positive=True)
        expires_at = Rfc3339Field()

    def get_queryset(self):
        return selectors.locate_list(user=self.request.user)

    @extend_schema(
        request=InputSerializer,
        responses={201: LocateOutputSerializer},
        examples=[
            OpenApiExample(
                "Locate",
                value={
                    "account": "ACC-002",
                    "instrument": "AAPL",
                    "lender": "Prime Broker Securities Lending",
                    "reference": "PB-LOC-20261120-0042",
                    "quantity": "5000",
                    "expires_at": "2026-11-20T21:00:00Z",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account, instrument = account_and_instrument_known(
            data.pop("account"), data.pop("instrument"), user=request.user
        )
        locate = locate_record(account=account, instrument=instrument, actor=request.user, **data)
        locate = selectors.locate_list(user=request.user).get(pk=locate.pk)
        return Response(LocateOutputSerializer(locate).data, status=status.HTTP_201_CREATED)


EXAMPLE_FX_RATE = {
    "id": 31,
    "base": "EUR",
    "quote": "USD",
    "rate": "1.085",
    "as_of": "2026-11-20T16:00:00Z",
    "source": "ecb",
    "created_at": "2026-11-20T16:00:03.120000Z",
}


class FxRateOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    base = serializers.CharField()
    quote = serializers.CharField()
    rate = AmountField(help_text="One `base` buys `rate` of `quote` (EUR/USD 1.085).")
    as_of = serializers.DateTimeField()
    source = serializers.CharField()
    created_at = serializers.DateTimeField()


class FxRateListCreateApi(ListAPIView):
    """GET: the recorded FX rates, latest first (`?latest=true`: the latest of each pair).
    POST: record a rate; the gate converts every account limit at the latest rate of a pair,
    and refuses one older than FX_RATE_MAX_AGE_SECONDS (`fx_rate_unavailable`)."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.RISK_MANAGER}
    filterset_class = FxRateFilter
    serializer_class = FxRateOutputSerializer

    class InputSerializer(serializers.Serializer):
        base = TextOnlyField(max_length=3, help_text="ISO 4217 code of the currency priced.")
        quote = TextOnlyField(max_length=3, help_text="ISO 4217 code it is priced in.")
        rate = AmountField(positive=True)
        as_of = Rfc3339Field(
            required=False, help_text="When the rate was fixed, with its offset; now when left out."
        )
        source = TextOnlyField(max_length=64, required=False, default="api")

    def get_queryset(self):
        return selectors.fx_rate_list()

    @extend_schema(
        request=InputSerializer,
        responses={201: FxRateOutputSerializer},
        examples=[
            OpenApiExample(
                "ECB reference rate",
                value={
                    "base": "EUR",
                    "quote": "USD",
                    "rate": "1.085",
                    "as_of": "2026-11-20T16:00:00Z",
                    "source": "ecb",
                },
                request_only=True,
            ),
            OpenApiExample("Recorded", value=EXAMPLE_FX_RATE, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = fx_rate_record(actor=request.user, **serializer.validated_data)
        return Response(FxRateOutputSerializer(row).data, status=status.HTTP_201_CREATED)
