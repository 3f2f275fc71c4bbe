"""The gate's reads, in plain SQL (see apps/core/sql.py for why). Each function here builds one
short statement on an index, with the fields that convert its columns; the gate sends them in
two batches per order (one round trip each on PostgreSQL).
"""

from datetime import datetime

from apps.core import sql
from apps.core.sql import Statement
from apps.killswitch.models import KillSwitch
from apps.rules.models import RestrictedListEntry, RuleSetVersion
from apps.trading.models import (
    WORKING_STATUSES,
    Account,
    AccountDailyActivity,
    Fill,
    Instrument,
    Order,
    Position,
    ReferencePrice,
    WorkingExposure,
)

_f = sql.field
_T = {m: sql.quote(m._meta.db_table) for m in (
    AccountDailyActivity, Fill, Instrument, Order, Position, ReferencePrice, WorkingExposure,
    KillSwitch, RestrictedListEntry, RuleSetVersion,
)}  # fmt: skip

PRICE = _f(ReferencePrice, "price")
_WORKING = sorted(s.value for s in WORKING_STATUSES)
_LATEST_PRICE = (
    f"SELECT r.price FROM {_T[ReferencePrice]} r WHERE r.instrument_id = p.instrument_id"
    " ORDER BY r.as_of DESC, r.id DESC LIMIT 1"
)


def ruleset_version() -> Statement:
    return f"SELECT version FROM {_T[RuleSetVersion]} WHERE id = 1", (), ()


def account_locked(account_id: int) -> Statement:
    """The account row, locked until the transaction ends: one order at a time per account."""
    return sql.select_statement(Account, "id = %s", [account_id], lock=True)


def order_by_client_id(account_id: int, client_order_id: str) -> Statement:
    """(id, request digest) of the account's order with this client_order_id, if any."""
    return (
        f"SELECT id, request_digest FROM {_T[Order]} WHERE account_id = %s"
        " AND client_order_id = %s",
        [account_id, client_order_id],
        (),
    )


def reference_price(instrument_id: int) -> Statement:
    """(price, as of) of the instrument's latest reference price."""
    return (
        f"SELECT price, as_of FROM {_T[ReferencePrice]} WHERE instrument_id = %s"
        " ORDER BY as_of DESC, id DESC LIMIT 1",
        [instrument_id],
        [PRICE, _f(ReferencePrice, "as_of")],
    )


def open_positions(account_id: int) -> Statement:
    """(instrument id, quantity, latest price or None, average cost, sector) of each position
    that is not flat."""
    return (
        f"SELECT p.instrument_id, p.quantity, ({_LATEST_PRICE}), p.average_cost, i.sector"
        f" FROM {_T[Position]} p JOIN {_T[Instrument]} i ON i.id = p.instrument_id"
        " WHERE p.account_id = %s AND p.quantity <> 0",
        [account_id],
        [None, _f(Position, "quantity"), PRICE, _f(Position, "average_cost"), None],
    )


def working_exposure(account_id: int) -> Statement:
    """(instrument id, buy quantity, sell quantity, buy notional, sell notional, sector)."""
    w = WorkingExposure
    return (
        "SELECT w.instrument_id, w.buy_quantity, w.sell_quantity, w.buy_notional,"
        f" w.sell_notional, i.sector FROM {_T[w]} w"
        f" JOIN {_T[Instrument]} i ON i.id = w.instrument_id WHERE w.account_id = %s",
        [account_id],
        [None]
        + [_f(w, n) for n in ("buy_quantity", "sell_quantity", "buy_notional", "sell_notional")],
    )


def daily_activity(account_id: int, day) -> Statement:
    """(orders submitted, orders canceled, filled notional) of the account on a UTC day."""
    a = AccountDailyActivity
    return (
        f"SELECT orders_submitted, orders_canceled, filled_notional FROM {_T[a]}"
        " WHERE account_id = %s AND date = %s",
        [account_id, _f(a, "date").get_db_prep_value(day, sql.connection)],
        [None, None, _f(a, "filled_notional")],
    )


def orders_since(account_id: int, since: datetime) -> Statement:
    return (
        f"SELECT COUNT(*) FROM {_T[Order]} WHERE account_id = %s AND created_at >= %s",
        [account_id, sql.param_datetime(since)],
        (),
    )


def filled_quantity_since(account_id: int, instrument_id: int, since: datetime) -> Statement:
    return (
        f"SELECT SUM(f.quantity) FROM {_T[Fill]} f JOIN {_T[Order]} o ON o.id = f.order_id"
        " WHERE o.account_id = %s AND o.instrument_id = %s AND f.executed_at >= %s",
        [account_id, instrument_id, sql.param_datetime(since)],
        [_f(Fill, "quantity")],
    )


def latest_duplicate(
    *, account_id, instrument_id, side, quantity, limit_price, since, exclude_id=None
) -> Statement:
    """When the latest working order (accepted, partially filled, held) of the account with
    the same instrument, side, quantity and price was created, if since `since`. A filled or
    canceled one is not a duplicate's original: an algorithm slicing a parent order sends the
    next child of the same size once the previous one has filled."""
    order = _f(Order, "quantity")
    where = (
        "account_id = %s AND instrument_id = %s AND side = %s AND quantity = %s"
        f" AND created_at >= %s AND status IN ({', '.join(['%s'] * len(_WORKING))})"
    )
    params = [
        account_id,
        instrument_id,
        side,
        order.get_db_prep_save(quantity, sql.connection),
        sql.param_datetime(since),
        *_WORKING,
    ]
    if limit_price is None:
        where += " AND limit_price IS NULL"
    else:
        where += " AND limit_price = %s"
        params.append(_f(Order, "limit_price").get_db_prep_save(limit_price, sql.connection))
    if exclude_id is not None:
        where += " AND id <> %s"
        params.append(exclude_id)
    return (
        f"SELECT MAX(created_at) FROM {_T[Order]} WHERE {where}",
        params,
        [_f(Order, "created_at")],
    )


def live_restrictions(instrument_id: int, issuers: list[str], now: datetime) -> Statement:
    """(instrument id, issuer, reason) of restricted-list entries in force on the instrument or
    one of the issuers."""
    where = "(instrument_id = %s"
    params: list = [instrument_id]
    if issuers:
        where += f" OR issuer IN ({', '.join(['%s'] * len(issuers))})"
        params += issuers
    at = sql.param_datetime(now)
    return (
        f"SELECT instrument_id, issuer, reason FROM {_T[RestrictedListEntry]} WHERE {where})"
        " AND effective_from <= %s AND (effective_until IS NULL OR effective_until > %s)"
        " ORDER BY id",
        [*params, at, at],
        (),
    )


def active_kill_switches(account_code: str, symbol: str) -> Statement:
    """(scope, target, state, reason) of the kill switches in force on this order, oldest
    first."""
    return (
        f"SELECT scope, target, state, reason FROM {_T[KillSwitch]} WHERE is_active = %s"
        " AND (scope = 'firm' OR (scope = 'account' AND target = %s)"
        " OR (scope = 'instrument' AND target = %s)) ORDER BY activated_at, id",
        [True, account_code, symbol],
        (),
    )
