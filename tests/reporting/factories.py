"""A small desk whose reports are computed by hand in the tests.

Business day 2026-11-20 (a Friday), UTC:

| # | time  | account | instrument | side | qty | price | value | commission | venue | liquidity |
|---|-------|---------|------------|------|-----|-------|-------|------------|-------|-----------|
| 0 | 11-19 15:00 | ACC-T1 | AAPL | buy | 2 | 90 | 180 USD | 0 | XNAS | added |
| 1 | 10:00 | ACC-T2 | SAP  | buy  | 5  | 200 | 1000 EUR | 2    | XETR | added   |
| 2 | 11:00 | ACC-T2 | SAP  | sell | 8  | 210 | 1680 EUR | 1    | XETR | removed |
| 3 | 14:30 | ACC-T1 | AAPL | buy  | 10 | 100 | 1000 USD | 1    | XNAS | added   |
| 4 | 15:00 | ACC-T1 | AAPL | sell | 4  | 110 | 440 USD  | 0.5  | XNAS | removed |
| 5 | 16:00 | ACC-T1 | AAPL | sell | 3  | 105 | 315 USD  | 0.25 | BATS | removed |

ACC-T1 is the firm's own book (DEAL); ACC-T2 is a client with its own LEI, traded for as its
agent (AOTC). The trader `tina` has her MiFIR identity on record (British, a National Insurance
number). XETR's trades are cleared by Eurex Clearing (the CCP); XNAS and BATS have no CCP in the
shipped mapping, so the venue's MIC stands for the other side there.

Fill 3 was decided by an algorithm (strategy mean-rev-7), the others by the trader `tina`;
fill 2 sells more SAP than ACC-T2 holds (a short sale); the client directed fill 5 to BATS.
Closing prices: AAPL 106 on 11-20; SAP has none, its reference price is 205 (11-20 16:00).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from apps.rbac.roles import Role
from apps.rbac.services import staff_identity_set, user_create
from apps.trading.models import DailyPrice, Order
from apps.trading.services import order_create, order_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

DAY = date(2026, 11, 20)
PREVIOUS = date(2026, 11, 19)
_ids = count(1)


def at(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def book_fill(
    *,
    account,
    instrument,
    side: str,
    quantity: str,
    price: str,
    executed_at: datetime,
    venue: str = "XNAS",
    commission: str = "0",
    liquidity: str = "removed",
    trader=None,
    metadata: dict | None = None,
    exec_id: str | None = None,
    counterparty_lei: str = "",
):
    n = next(_ids)
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id=f"rep-{n}",
        side=side,
        order_type="limit",
        quantity=quantity,
        limit_price=price,
        metadata=metadata or {"signal_id": f"s{n}"},
        submitted_by=trader,
        reference_price=Decimal(price),
        check_duplicate=False,
    )
    # Submitted a minute before it traded (a fill before its order is refused at the door).
    Order.objects.filter(pk=order.pk).update(created_at=executed_at - timedelta(minutes=1))
    order.refresh_from_db()
    fill, _position = order_fill(
        order=order,
        exec_id=exec_id or f"EX-{n}",
        quantity=quantity,
        price=price,
        venue=venue,
        executed_at=executed_at,
        liquidity=liquidity,
        commission=commission,
        counterparty_lei=counterparty_lei,
    )
    return fill


def make_desk() -> dict:
    tina = user_create(username="tina", password="x-password-1", role=Role.TRADER)
    staff_identity_set(
        user=tina,
        first_names="Tina",
        surnames="Fairweather",
        birth_date=date(1988, 3, 14),
        nationality="GB",
        national_id="QQ123456C",
        national_id_kind="NIDN",
    )
    t1 = AccountFactory(code="ACC-T1")
    t2 = AccountFactory(code="ACC-T2", lei="5493001KJTIIGC8Y1R12", trading_capacity="AOTC")
    aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005", mic="XNAS")
    sap = InstrumentFactory(
        symbol="SAP", isin="DE0007164600", mic="XETR", currency="EUR", sector="Software"
    )
    ReferencePriceFactory(instrument=aapl, price=Decimal("100"), as_of=at(PREVIOUS, "12:00"))
    ReferencePriceFactory(instrument=sap, price=Decimal("205"), as_of=at(DAY, "16:00"))
    DailyPrice.objects.create(
        instrument=aapl,
        date=DAY,
        open=Decimal("100"),
        high=Decimal("111"),
        low=Decimal("99"),
        close=Decimal("106"),
    )
    fills = [
        book_fill(account=t1, instrument=aapl, side="buy", quantity="2", price="90",
                  executed_at=at(PREVIOUS, "15:00"), liquidity="added", trader=tina),
        book_fill(account=t2, instrument=sap, side="buy", quantity="5", price="200",
                  executed_at=at(DAY, "10:00"), venue="XETR", commission="2",
                  liquidity="added", trader=tina),
        book_fill(account=t2, instrument=sap, side="sell", quantity="8", price="210",
                  executed_at=at(DAY, "11:00"), venue="XETR", commission="1", trader=tina),
        book_fill(account=t1, instrument=aapl, side="buy", quantity="10", price="100",
                  executed_at=at(DAY, "14:30"), commission="1", liquidity="added", trader=tina,
                  metadata={"decision_source": "algo", "strategy": "mean-rev-7"}),
        book_fill(account=t1, instrument=aapl, side="sell", quantity="4", price="110",
                  executed_at=at(DAY, "15:00"), commission="0.5", trader=tina),
        book_fill(account=t1, instrument=aapl, side="sell", quantity="3", price="105",
                  executed_at=at(DAY, "16:00"), venue="BATS", commission="0.25", trader=tina,
                  metadata={"signal_id": "s5", "directed_venue": "BATS"}),
    ]  # fmt: skip
    return {"tina": tina, "t1": t1, "t2": t2, "aapl": aapl, "sap": sap, "fills": fills}
