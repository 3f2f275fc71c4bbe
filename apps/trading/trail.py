"""What the audit trail keeps of the order life: the payloads trading writes, key by key.

`trading.services` records an event at every step of an order (ORDER_SUBMITTED, ORDER_ACCEPTED,
ORDER_REJECTED, ORDER_AMENDED, ORDER_CANCELED, ORDER_EXPIRED, ORDER_FILLED) and a
POSITION_CHANGED after each fill. Surveillance rebuilds its event stream from these payloads
(`apps/surveillance/stream.py`), so the keys are named once, here, and the writers below and the
stream both use the names: a key renamed here is renamed for the reader too, and
tests/surveillance/test_stream_trail.py sends orders through the services and reads every field
back through the stream.
"""

from typing import Any

from apps.trading.models import Fill, Order

# Keys of an order event's payload.
ORDER = "order"  # every order event: the order as it stands after the step (`order_snapshot`)
FILL = "fill"  # ORDER_FILLED: the execution (`fill_record`)
PREVIOUS_STATUS = "previous_status"  # a status move (`order_status_set`): the status it left


class OrderKey:
    """Keys of the order snapshot (`payload[ORDER]`)."""

    CLIENT_ORDER_ID = "client_order_id"
    ACCOUNT = "account"  # the account code
    INSTRUMENT = "instrument"  # the symbol
    SIDE = "side"
    ORDER_TYPE = "order_type"
    TIME_IN_FORCE = "time_in_force"
    QUANTITY = "quantity"
    LIMIT_PRICE = "limit_price"
    STATUS = "status"
    FILLED_QUANTITY = "filled_quantity"
    AVG_FILL_PRICE = "avg_fill_price"
    REFERENCE_PRICE = "reference_price"
    EXPIRE_AT = "expire_at"  # when it expires if still working (None: gtc)
    SUBMITTED_BY = "submitted_by"  # the user id of who submitted it (None: not known)
    STRATEGY = "strategy"  # its metadata.strategy (None: not given)


class FillKey:
    """Keys of the execution of an ORDER_FILLED event (`payload[FILL]`)."""

    ID = "id"
    EXEC_ID = "exec_id"
    QUANTITY = "quantity"
    PRICE = "price"
    VENUE = "venue"
    EXECUTED_AT = "executed_at"
    LIQUIDITY = "liquidity"
    COMMISSION = "commission"
    COUNTERPARTY_LEI = "counterparty_lei"  # an off-venue execution's other side, when given


class PositionKey:
    """Keys of a POSITION_CHANGED payload; `BEFORE` and `AFTER` hold the position's
    `QUANTITY`, `AVERAGE_COST` and `REALISED_PNL`."""

    ACCOUNT = "account"
    INSTRUMENT = "instrument"
    FILL_ID = "fill_id"
    BEFORE = "before"
    AFTER = "after"
    QUANTITY = "quantity"
    AVERAGE_COST = "average_cost"
    REALISED_PNL = "realised_pnl"


def order_snapshot(order: Order) -> dict[str, Any]:
    """What the trail keeps of an order at each step."""
    k = OrderKey
    return {
        k.CLIENT_ORDER_ID: order.client_order_id,
        k.ACCOUNT: order.account.code,
        k.INSTRUMENT: order.instrument.symbol,
        k.SIDE: order.side,
        k.ORDER_TYPE: order.order_type,
        k.TIME_IN_FORCE: order.time_in_force,
        k.QUANTITY: order.quantity,
        k.LIMIT_PRICE: order.limit_price,
        k.STATUS: order.status,
        k.FILLED_QUANTITY: order.filled_quantity,
        k.AVG_FILL_PRICE: order.avg_fill_price,
        k.REFERENCE_PRICE: order.reference_price,
        k.EXPIRE_AT: order.expire_at,
        k.SUBMITTED_BY: order.submitted_by_id,
        k.STRATEGY: _strategy(order.metadata),
    }


def _strategy(metadata) -> str | None:
    strategy = metadata.get("strategy") if isinstance(metadata, dict) else None
    return str(strategy) if strategy not in (None, "") else None


def fill_record(fill: Fill) -> dict[str, Any]:
    """What the trail keeps of an execution."""
    k = FillKey
    record = {
        k.ID: fill.pk,
        k.EXEC_ID: fill.exec_id,
        k.QUANTITY: fill.quantity,
        k.PRICE: fill.price,
        k.VENUE: fill.venue,
        k.EXECUTED_AT: fill.executed_at,
        k.LIQUIDITY: fill.liquidity,
        k.COMMISSION: fill.commission,
    }
    if fill.counterparty_lei:
        record[k.COUNTERPARTY_LEI] = fill.counterparty_lei
    return record


def position_change(*, order: Order, fill: Fill, before, after) -> dict[str, Any]:
    """A POSITION_CHANGED payload; `before` and `after` are position states (quantity,
    average cost, realised P&L)."""
    k = PositionKey

    def state(position) -> dict[str, Any]:
        return {
            k.QUANTITY: position.quantity,
            k.AVERAGE_COST: position.average_cost,
            k.REALISED_PNL: position.realised_pnl,
        }

    return {
        k.ACCOUNT: order.account.code,
        k.INSTRUMENT: order.instrument.symbol,
        k.FILL_ID: fill.pk,
        k.BEFORE: state(before),
        k.AFTER: state(after),
    }
