"""Working exposure and daily counters stay exact with fractional quantities and prices.

SQLite computes decimal columns in floating point: sums must be done in Decimal, or small
drifts accumulate and trip the non-negative constraints.
"""

from decimal import Decimal

from django.utils import timezone

from apps.trading.models import AccountDailyActivity, AccountDailyFilled, WorkingExposure
from apps.trading.services import order_cancel, order_create, order_fill
from tests.trading.factories import InstrumentFactory


def test_many_fractional_orders_leave_exposure_exactly_zero(account):
    coin = InstrumentFactory(symbol="BTC-T", lot_size=Decimal("0.0001"), asset_class="crypto")
    prices = ["91234.57", "0.00012345", "3.33333333", "77777.77777777"]
    for n in range(40):
        order = order_create(
            account=account,
            instrument=coin,
            client_order_id=f"f-{n}",
            side="buy",
            order_type="limit",
            quantity="0.0003",
            limit_price=prices[n % 4],
        )
        order_fill(
            order=order,
            exec_id=f"x-{n}",
            quantity="0.0001",
            price=prices[n % 4],
            venue="XOFF",
            executed_at=timezone.now(),
            liquidity="added",
        )
        order_cancel(order=order)
    exposure = WorkingExposure.objects.get(account=account, instrument=coin)
    assert (exposure.buy_quantity, exposure.buy_notional) == (0, 0)
    day = AccountDailyActivity.objects.get(account=account)
    eight = Decimal("0.00000001")
    expected = sum((Decimal("0.0001") * Decimal(prices[n % 4])).quantize(eight) for n in range(40))
    assert AccountDailyFilled.objects.get(account=account).filled_notional == expected
    assert (day.orders_submitted, day.orders_canceled) == (40, 40)
