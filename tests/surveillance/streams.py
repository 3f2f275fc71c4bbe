"""Building synthetic event streams for the detector tests."""

from decimal import Decimal

from apps.surveillance.engine import Engine
from apps.surveillance.stream import CANCEL, EXEC, FILL, NEW, POSITION, REJECT, Event

T0 = 1_763_650_000.0  # 2025-11-20 14:46:40 UTC, a Thursday


class Stream:
    """Appends events with increasing sequence numbers; ids for orders and fills."""

    def __init__(self, owners: dict[str, str] | None = None):
        self.events: list[Event] = []
        self.owners = owners or {}
        self.seq = 0
        self.next_order = 1
        self.next_fill = 1

    def _add(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def order(self, t, account, instrument, side, qty, price=None, ref=None, rejected=False):
        order_id = self.next_order
        self.next_order += 1
        self._add(
            Event(
                self._seq(),
                T0 + t,
                REJECT if rejected else NEW,
                order_id,
                account,
                self.owners.get(account, account),
                instrument,
                side,
                Decimal(qty),
                None if price is None else Decimal(price),
                None if ref is None else Decimal(ref),
                Decimal(0),
            )
        )
        return order_id

    def cancel(self, t, order_id, filled="0"):
        placed = next(e for e in self.events if e.order_id == order_id and e.kind == NEW)
        self._add(
            Event(
                self._seq(),
                T0 + t,
                CANCEL,
                order_id,
                placed.account,
                placed.owner,
                placed.instrument,
                placed.side,
                placed.quantity,
                placed.price,
                placed.reference_price,
                Decimal(filled),
            )
        )

    def fill(self, t, order_id, qty, price, position=None):
        placed = next(e for e in self.events if e.order_id == order_id and e.kind == NEW)
        fill_id = self.next_fill
        self.next_fill += 1
        self._add(
            Event(
                self._seq(),
                T0 + t,
                FILL,
                order_id,
                placed.account,
                placed.owner,
                placed.instrument,
                placed.side,
                Decimal(qty),
                Decimal(price),
                placed.reference_price,
                Decimal(qty),
                fill_id,
            )
        )
        if position is not None:
            self._add(
                Event(
                    self._seq(),
                    T0 + t,
                    POSITION,
                    None,
                    placed.account,
                    placed.owner,
                    placed.instrument,
                    quantity=Decimal(position),
                    fill_id=fill_id,
                )
            )
        return fill_id

    def trade(self, t, account, instrument, side, qty, price, ref=None, position=None):
        """An order filled in full at once."""
        order_id = self.order(t, account, instrument, side, qty, price, ref)
        return order_id, self.fill(t, order_id, qty, price, position)

    def execution(
        self,
        t,
        account,
        instrument,
        side,
        qty,
        price,
        *,
        order_id=None,
        status="",
        ordered=None,
        total=None,
        client_order_id="c-1",
    ):
        self._add(
            Event(
                self._seq(),
                T0 + t,
                EXEC,
                order_id,
                account,
                self.owners.get(account, account),
                instrument,
                side,
                Decimal(qty),
                Decimal(price),
                extra={
                    "execution_id": self.seq,
                    "exec_id": f"X-{self.seq}",
                    "client_order_id": client_order_id,
                    "order_status": status,
                    "order_quantity": None if ordered is None else Decimal(ordered),
                    "reported_total": Decimal(total if total is not None else qty),
                },
            )
        )


def findings(stream: Stream, detector: str, params=None, context=None, emit_after=0):
    engine = Engine.build({detector: params or {}}, context=context)
    return list(engine.run(stream.events, emit_after=emit_after))
