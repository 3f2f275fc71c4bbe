from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.trading.models import DailyPrice, Fill, Order, Position
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

# A fixed moment on a Saturday: only the round-the-clock calendar is open.
NOW = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)


def instrument(symbol: str, sector: str, price: str, *, as_of=NOW, calendar="24/7"):
    item = InstrumentFactory(symbol=symbol, sector=sector, calendar=calendar)
    ReferencePriceFactory(instrument=item, price=Decimal(price), as_of=as_of)
    return item


def position(account, item, quantity: str):
    return Position.objects.update_or_create(
        account=account, instrument=item, defaults={"quantity": Decimal(quantity)}
    )[0]


def closes(item, values: list[str], last: date = date(2026, 11, 20)):
    """One daily bar per value, ending on `last`, one calendar day apart."""
    days = len(values)
    DailyPrice.objects.bulk_create(
        DailyPrice(
            instrument=item,
            date=last - timedelta(days=days - 1 - n),
            open=Decimal(v),
            high=Decimal(v),
            low=Decimal(v),
            close=Decimal(v),
        )
        for n, v in enumerate(values)
    )


def fill(account, item, side: str, quantity: str, price: str, reference: str, when=NOW):
    order = Order.objects.create(
        account=account,
        instrument=item,
        client_order_id=f"o-{Order.objects.count() + 1}",
        side=side,
        order_type="market",
        quantity=Decimal(quantity),
        status="filled",
        filled_quantity=Decimal(quantity),
        reference_price=Decimal(reference),
    )
    return Fill.objects.create(
        order=order,
        exec_id=f"x-{order.pk}",
        quantity=Decimal(quantity),
        price=Decimal(price),
        venue="XNYS",
        executed_at=when - timedelta(minutes=5),
        liquidity="removed",
    )


@pytest.fixture
def book(db):
    """ACC-M1 long 1 AAA at 110 (closes 100, 120, 90, 110) and 1 BBB at 110 (flat closes);
    ACC-M2 long 3 CCC at 10."""
    aaa = instrument("AAA", "Technology", "110")
    bbb = instrument("BBB", "Energy", "110")
    ccc = instrument("CCC", "Energy", "10")
    closes(aaa, ["100", "120", "90", "110"])
    closes(bbb, ["110", "110", "110", "110"])
    one, two = AccountFactory(code="ACC-M1"), AccountFactory(code="ACC-M2")
    position(one, aaa, "1")
    position(one, bbb, "1")
    position(two, ccc, "3")
    return {"accounts": (one, two), "instruments": (aaa, bbb, ccc)}
