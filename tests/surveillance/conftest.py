import itertools
from decimal import Decimal

import pytest

from apps.core.time import utcnow
from apps.trading.services import order_cancel, order_create, order_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

_ids = itertools.count(1)


class Desk:
    """Orders and fills through trading's services, as the gate and the fills API book them."""

    def __init__(self):
        self.a1 = AccountFactory(code="ACC-T1", beneficial_owner="Owner One")
        # One owner, written as the second account's papers write it.
        self.a2 = AccountFactory(code="ACC-T2", beneficial_owner="One, Owner")
        self.b = AccountFactory(code="ACC-B", beneficial_owner="Owner Two")
        self.aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005")
        self.msft = InstrumentFactory(symbol="MSFT", isin="US5949181045")
        ReferencePriceFactory(instrument=self.aapl, price=Decimal("100"))
        ReferencePriceFactory(instrument=self.msft, price=Decimal("400"))

    def order(self, account, side, quantity, price="100", instrument=None, status="accepted"):
        return order_create(
            account=account,
            instrument=instrument or self.aapl,
            client_order_id=f"o-{next(_ids)}",
            side=side,
            order_type="limit",
            quantity=quantity,
            limit_price=price,
            status=status,
            reference_price=Decimal("100"),
        )

    def fill(self, order, quantity=None, price=None):
        fill, _ = order_fill(
            order=order,
            exec_id=f"x-{next(_ids)}",
            quantity=quantity or order.quantity,
            price=price or order.limit_price,
            venue="XNYS",
            executed_at=utcnow(),
            liquidity="removed",
        )
        return fill

    def trade(self, account, side, quantity, price="100", instrument=None):
        order = self.order(account, side, quantity, price, instrument)
        return order, self.fill(order)

    def cancel(self, order):
        return order_cancel(order=order, reason="test")


@pytest.fixture
def desk(db):
    return Desk()


def close_alert(alert, *, disposition: str, comment: str, actor):
    """Close `alert` whatever its severity: a critical one is proposed by `actor` and confirmed
    by a second Compliance Officer (four-eyes), as the desk does it."""
    from apps.rbac.roles import Role
    from apps.rbac.services import user_create
    from apps.surveillance.services import alert_close

    closed = alert_close(alert=alert, disposition=disposition, comment=comment, actor=actor)
    if closed.status == "closed":
        return closed
    second = user_create(
        username=f"second-{actor.pk}-{alert.pk}",
        password="second-officer-password-1",
        role=Role.COMPLIANCE_OFFICER,
    )
    return alert_close(alert=closed, disposition=disposition, comment="Agreed.", actor=second)
