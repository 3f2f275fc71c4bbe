"""Surveillance reads fills as they stand: a busted fill is left out of the stream, a corrected
one carries its corrected quantity and price."""

from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.surveillance.runner import stream_events
from apps.surveillance.stream import FILL
from apps.trading.services import fill_bust, fill_correct
from tests.reporting.factories import DAY, at, book_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

pytestmark = pytest.mark.django_db


def test_the_stream_drops_busted_fills_and_reads_corrections(make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    account = AccountFactory(code="ACC-SV")
    instrument = InstrumentFactory(symbol="SVX", mic="XNAS")
    ReferencePriceFactory(instrument=instrument, price=Decimal("100"), as_of=at(DAY, "09:00"))
    fills = [
        book_fill(
            account=account,
            instrument=instrument,
            side="buy",
            quantity="10",
            price="100",
            executed_at=at(DAY, f"1{n}:00"),
        )
        for n in range(3)
    ]
    fill_bust(fill=fills[0], reason="erroneous", actor=officer)
    fill_correct(fill=fills[1], quantity="7", price="99", reason="venue", actor=officer)
    head = max(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[:1])
    seen = [
        (e.fill_id, e.quantity, e.price)
        for e in stream_events(after_seq=0, up_to_seq=head, owners={})
        if e.kind == FILL
    ]
    assert seen == [
        (fills[1].pk, Decimal("7"), Decimal("99")),
        (fills[2].pk, Decimal("10"), Decimal("100")),
    ]
