"""Reference data, positions, locates, FX rates and fill corrections. Thin: selector, filter,
serializer; the writes here (a locate, an FX rate, a fill corrected or busted) call their
services."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.changes.apis import EXAMPLE_CHANGE, ConfigChangeOutputSerializer
from apps.changes.services import config_change_propose
from apps.core.errors import NotFound
from apps.core.fields import AmountField, Rfc3339Field, TextOnlyField
from apps.core.serializers import StrictInputSerializer
from apps.core.types import decimal_str
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.filters import (
    AccountFilter,
    FxRateFilter,
    InstrumentFilter,
    LocateFilter,
    PositionFilter,
)
from apps.trading.models import Fill
from apps.trading.services import (
    account_and_instrument_known,
    fill_bust,
    fill_correct,
    locate_record,
)


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
        trading_capacity = serializers.CharField(
            help_text="MiFIR trading capacity (RTS 22 field 29): DEAL, MTCH or AOTC."
        )
        client_category = serializers.CharField(
            help_text="MiFID II client category: retail, professional, eligible_counterparty."
        )
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
        mifir_reportable = serializers.BooleanField(
            help_text="In the scope of MiFIR art. 26: its fills are in the transaction report."
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

    class InputSerializer(StrictInputSerializer):
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


EXAMPLE_FX_PROPOSAL = {
    **EXAMPLE_CHANGE,
    "kind": "fx_rate",
    "target": "EUR/USD",
    "before": {"rate": "1.084", "as_of": "2026-11-19T16:00:00Z", "source": "ecb"},
    "proposed": {"rate": "1.085", "as_of": "2026-11-20T16:00:00Z", "source": "ecb"},
    "reason": "",
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
    POST: propose a rate (maker-checker): the answer is 202 with the pending configuration
    change (kind `fx_rate`); the rate is recorded when another Risk Manager approves it
    (`POST /api/v1/changes/{id}/approve/`). The gate converts every account limit at the latest
    rate of a pair, and refuses one older than FX_RATE_MAX_AGE_SECONDS (`fx_rate_unavailable`).
    400 for a bad code, rate or time, which stores nothing."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.RISK_MANAGER}
    filterset_class = FxRateFilter
    serializer_class = FxRateOutputSerializer

    class InputSerializer(StrictInputSerializer):
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
        responses={202: ConfigChangeOutputSerializer},
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
            OpenApiExample("Proposed", value=EXAMPLE_FX_PROPOSAL, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        pair = f"{data.pop('base')}/{data.pop('quote')}"
        change = config_change_propose(kind="fx_rate", target=pair, values=data, actor=request.user)
        return Response(ConfigChangeOutputSerializer(change).data, status=status.HTTP_202_ACCEPTED)


# --- fill corrections and busts (Compliance Officer) ---------------------------------------------

EXAMPLE_FILL_CHANGE = {
    "fill_id": 8812,
    "exec_id": "XETR-20260119-000123",
    "status": "active",
    "version": 2,
    "quantity": "95",
    "price": "201.40",
    "original_quantity": "100",
    "original_price": "201.40",
    "change_reason": "Venue trade correction 2026-01-19 #5521",
    "changed_at": "2026-01-20T08:12:40.118000Z",
    "position": {
        "account": "ACC-EU-1",
        "instrument": "SAP",
        "quantity": "95",
        "average_cost": "201.4",
        "realised_pnl": "0",
    },
}


class FillChangeOutputSerializer(serializers.Serializer):
    fill_id = serializers.IntegerField()
    exec_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "busted"])
    version = serializers.IntegerField(help_text="1 as booked; one more for each correction.")
    quantity = AmountField()
    price = AmountField()
    original_quantity = AmountField(allow_null=True)
    original_price = AmountField(allow_null=True)
    change_reason = serializers.CharField()
    changed_at = serializers.DateTimeField(allow_null=True)
    position = serializers.DictField()


def _fill_or_404(fill_id: int) -> Fill:
    fill = Fill.objects.select_related("order").filter(pk=fill_id).first()
    if fill is None:
        raise NotFound("No such fill.", code="fill_not_found")
    return fill


def _fill_change_body(fill: Fill, position) -> dict:
    return {
        "fill_id": fill.pk,
        "exec_id": fill.exec_id,
        "status": fill.status,
        "version": fill.version,
        "quantity": decimal_str(fill.quantity),
        "price": decimal_str(fill.price),
        "original_quantity": decimal_str(fill.original_quantity)
        if fill.original_quantity is not None
        else None,
        "original_price": decimal_str(fill.original_price)
        if fill.original_price is not None
        else None,
        "change_reason": fill.change_reason,
        "changed_at": fill.changed_at,
        "position": {
            "account": fill.order.account.code,
            "instrument": fill.order.instrument.symbol,
            "quantity": decimal_str(position.quantity),
            "average_cost": decimal_str(position.average_cost),
            "realised_pnl": decimal_str(position.realised_pnl),
        },
    }


class FillCorrectApi(APIView):
    """Correct a booked fill's quantity and/or price. The order, the working exposure, the day's
    filled notional and the position follow; reports of the fill's day are marked for a re-run
    (a MiFIR re-run after submission cancels the transaction and reports it anew). 404 for an
    unknown fill, 400 for a correction that changes nothing or does not fit the order, 409 for
    a busted fill."""

    required_role = Role.COMPLIANCE_OFFICER

    class InputSerializer(StrictInputSerializer):
        quantity = AmountField(positive=True)
        price = AmountField(positive=True)
        reason = TextOnlyField(max_length=500)

    @extend_schema(
        request=InputSerializer,
        responses={200: FillChangeOutputSerializer},
        examples=[
            OpenApiExample(
                "Correct the quantity",
                value={
                    "quantity": "95",
                    "price": "201.40",
                    "reason": "Venue trade correction 2026-01-19 #5521",
                },
                request_only=True,
            ),
            OpenApiExample("Corrected", value=EXAMPLE_FILL_CHANGE, response_only=True),
        ],
    )
    def post(self, request, fill_id: int):
        fill = _fill_or_404(fill_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fill, position = fill_correct(fill=fill, actor=request.user, **serializer.validated_data)
        return Response(_fill_change_body(fill, position))


class FillBustApi(APIView):
    """Bust a booked fill: it stays on record as `busted` and leaves the order's filled
    quantity, the position, the day's counters and the reports (a MiFIR re-run after
    submission cancels its transaction). 404 for an unknown fill, 409 when already busted."""

    required_role = Role.COMPLIANCE_OFFICER

    class InputSerializer(StrictInputSerializer):
        reason = TextOnlyField(max_length=500)

    @extend_schema(
        request=InputSerializer,
        responses={200: FillChangeOutputSerializer},
        examples=[
            OpenApiExample(
                "Bust",
                value={"reason": "Busted by the venue: erroneous trade (XETR notice 2026-041)"},
                request_only=True,
            ),
            OpenApiExample(
                "Busted",
                value={
                    **EXAMPLE_FILL_CHANGE,
                    "status": "busted",
                    "version": 1,
                    "quantity": "100",
                    "original_quantity": None,
                    "original_price": None,
                    "change_reason": "Busted by the venue: erroneous trade (XETR notice 2026-041)",
                    "position": {**EXAMPLE_FILL_CHANGE["position"], "quantity": "0"},
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, fill_id: int):
        fill = _fill_or_404(fill_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fill, position = fill_bust(fill=fill, actor=request.user, **serializer.validated_data)
        return Response(_fill_change_body(fill, position))
