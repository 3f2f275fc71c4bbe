"""From the writer to the detectors: orders sent through trading's services (and the gate's
refused amendment, and a drop copy) come back through surveillance's stream with every field a
detector reads. Renaming a payload key on one side only fails here, not silently in production.
"""

from decimal import Decimal

from django.contrib.auth import get_user_model

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.rules import gate
from apps.surveillance import stream
from apps.surveillance.runner import stream_events
from apps.surveillance.services import execution_report_record
from apps.trading.models import Account, OrderStatus
from apps.trading.services import (
    order_amend,
    order_cancel,
    order_create,
    order_fill,
    order_status_set,
)
from tests.rules.factories import make_rule

User = get_user_model()


def read_back(after_seq: int) -> list[stream.Event]:
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    owners = dict(Account.objects.values_list("code", "beneficial_owner__name"))
    users = dict(User.objects.values_list("pk", "username"))
    return list(stream_events(after_seq=after_seq, up_to_seq=head, owners=owners, users=users))


def fields(event: stream.Event) -> dict:
    return {name: getattr(event, name) for name in stream.Event.__slots__}


def recorded_at(event: stream.Event) -> float:
    return AuditEvent.objects.get(seq=event.seq).occurred_at.timestamp()


def test_the_stream_reads_every_field_the_order_life_writes(desk, make_user):
    trader = make_user(Role.TRADER)
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()

    def new(status="accepted", order_type="limit", price="101", ref="100", side="buy", **more):
        return order_create(
            account=desk.a1,
            instrument=desk.aapl,
            client_order_id=f"t-{status}-{order_type}-{side}",
            side=side,
            order_type=order_type,
            quantity="40",
            limit_price=price,
            status=status,
            reference_price=Decimal(ref),
            submitted_by=trader,
            **more,
        )

    order = new(metadata={"strategy": "mean-rev-7"})
    order = order_amend(order=order, quantity="50", limit_price="102", actor=trader)
    executed_at = utcnow().replace(microsecond=0)
    fill, _ = order_fill(
        order=order,
        exec_id="x-1",
        quantity="20",
        price="101.5",
        venue="XNAS",
        executed_at=executed_at,
        liquidity="removed",
        actor=trader,
    )
    make_rule("order_size", {"max_quantity": "55"})
    refused = gate.order_amend_gated(order=order, quantity="60", user=trader)
    assert refused.status == "rejected"
    order_cancel(order=order, actor=trader, reason="test")
    market = new(order_type="market", price=None, ref="99", side="sell")
    rejected = new(status="rejected", side="sell", price="97")
    approved = new(status="pending_approval", order_type="market", price=None)
    order_status_set(order=approved, status=OrderStatus.ACCEPTED, actor=trader)
    denied = new(status="pending_approval", price="103")
    order_status_set(order=denied, status=OrderStatus.REJECTED, actor=trader)
    expired = new(side="sell", price="98")
    order_status_set(order=expired, status=OrderStatus.EXPIRED, actor=trader)
    report = execution_report_record(
        account=desk.a1,
        instrument=desk.aapl,
        client_order_id=order.client_order_id,
        exec_id="venue-1",
        side="buy",
        quantity="20",
        price="101.5",
        venue="XNAS",
        executed_at=executed_at,
        actor=trader,
    )

    events = read_back(start)
    assert [(e.kind, e.order_id) for e in events] == [
        (stream.NEW, order.pk),
        (stream.AMEND, order.pk),
        (stream.FILL, order.pk),
        (stream.POSITION, None),
        (stream.AMEND, order.pk),
        (stream.CANCEL, order.pk),
        (stream.NEW, market.pk),
        (stream.REJECT, rejected.pk),
        (stream.HELD, approved.pk),  # not at market until released
        (stream.NEW, approved.pk),  # released: now it is
        (stream.HELD, denied.pk),
        (stream.DENY, denied.pk),
        (stream.NEW, expired.pk),
        (stream.EXPIRE, expired.pk),
        (stream.EXEC, order.pk),
    ]
    placed = {
        "order_id": order.pk,
        "account": "ACC-T1",
        "owner": "Owner One",
        "instrument": "AAPL",
        "side": "buy",
        "reference_price": Decimal("100"),
        "fill_id": None,
        "extra": None,
        "user": trader.username,
        "strategy": "mean-rev-7",
    }

    def order_event(step, **expected):
        event = events[step]
        assert fields(event) == {
            **placed,
            "seq": event.seq,
            "ts": recorded_at(event),
            "kind": event.kind,
            **expected,
        }

    order_event(0, quantity=Decimal("40"), price=Decimal("101"), filled=Decimal("0"))
    order_event(1, quantity=Decimal("50"), price=Decimal("102"), filled=Decimal("0"))
    order_event(
        2,
        ts=executed_at.timestamp(),
        quantity=Decimal("20"),
        price=Decimal("101.5"),
        filled=Decimal("20"),
        fill_id=fill.pk,
    )
    position = events[3]
    assert fields(position) == {
        **dict.fromkeys(stream.Event.__slots__),
        "seq": position.seq,
        "ts": recorded_at(position),
        "kind": stream.POSITION,
        "account": "ACC-T1",
        "owner": "Owner One",
        "instrument": "AAPL",
        "side": "",
        "quantity": Decimal("20"),
        "fill_id": fill.pk,
        "user": "",
        "strategy": "",
    }
    order_event(4, quantity=Decimal("50"), price=Decimal("102"), filled=Decimal("20"))
    order_event(5, quantity=Decimal("50"), price=Decimal("102"), filled=Decimal("20"))
    others = {
        6: (market, "sell", None, "99"),
        7: (rejected, "sell", Decimal("97"), "100"),
        8: (approved, "buy", None, "100"),
        9: (approved, "buy", None, "100"),
        10: (denied, "buy", Decimal("103"), "100"),
        11: (denied, "buy", Decimal("103"), "100"),
        12: (expired, "sell", Decimal("98"), "100"),
        13: (expired, "sell", Decimal("98"), "100"),
    }
    for step, (placed_order, side, price, ref) in others.items():
        order_event(
            step,
            order_id=placed_order.pk,
            side=side,
            quantity=Decimal("40"),
            price=price,
            reference_price=Decimal(ref),
            filled=Decimal("0"),
            strategy="",
        )
    drop_copy = events[14]
    assert fields(drop_copy) == {
        "seq": drop_copy.seq,
        "ts": executed_at.timestamp(),
        "kind": stream.EXEC,
        "order_id": order.pk,
        "account": "ACC-T1",
        "owner": "Owner One",
        "instrument": "AAPL",
        "side": "buy",
        "quantity": Decimal("20"),
        "price": Decimal("101.5"),
        "reference_price": None,
        "filled": None,
        "fill_id": None,
        "extra": {
            "execution_id": report.pk,
            "exec_id": "venue-1",
            "client_order_id": order.client_order_id,
            "order_status": "canceled",
            "order_quantity": Decimal("50"),
            "reported_total": Decimal("20"),
        },
        "user": "",
        "strategy": "",
    }
