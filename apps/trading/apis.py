"""Read-only reference and position endpoints. Thin: selector, filter, serializer."""

from rest_framework import serializers
from rest_framework.generics import ListAPIView

from apps.core.fields import AmountField
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.filters import AccountFilter, InstrumentFilter, PositionFilter


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
