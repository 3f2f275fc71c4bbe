"""The surveillance run reads the recorded tape: a ramp measured on the market's prints."""

from datetime import timedelta
from decimal import Decimal

from apps.marketdata.services import market_trades_record
from apps.surveillance.models import Alert
from apps.surveillance.runner import forget_warm_engine, surveillance_catch_up


def test_a_ramp_is_raised_with_the_markets_move_and_share(desk):
    fills = [desk.trade(desk.a1, "buy", "1000", price)[1] for price in ("100.6", "101.2", "101.8")]
    first = fills[0].executed_at
    tape = [
        {
            "instrument": "AAPL",
            "executed_at": first - timedelta(seconds=60),
            "price": Decimal("100.00"),
            "quantity": Decimal("200"),
            "venue": "XNYS",
        }
    ] + [
        {
            "instrument": "AAPL",
            "executed_at": f.executed_at,
            "price": f.price,
            "quantity": f.quantity,
            "venue": "XNYS",
            "trade_id": f"P-{f.pk}",
        }
        for f in fills
    ]
    market_trades_record(trades=tape, actor="test")
    forget_warm_engine()
    surveillance_catch_up()
    alert = Alert.objects.get(detector="ramping")
    details = alert.evidence["details"]
    assert details["move_measured_on"] == "market" and details["move_bps"] == "180.00"
    assert details["share_of_volume"] == "1.0000"  # the firm's own prints were all the volume
    assert details["grouping"] == "owner" and alert.account.code == "ACC-T1"
    assert sorted(alert.evidence["fills"]) == sorted(f.pk for f in fills)
