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
    Account,
    AccountDailyActivity,
    AccountDailyFilled,
    Fill,
    FxRate,
    Instrument,
    Order,
    OrderStatus,
    Position,
    ReferencePrice,
    WorkingExposure,
)

_f = sql.field
_T = {m: sql.quote(m._meta.db_table) for m in (
    AccountDailyActivity, Fill, Instrument, Order, Position, ReferencePrice, WorkingExposure,
    KillSwitch, RestrictedListEntry, RuleSetVersion, AccountDailyFilled, FxRate,
)}  # fmt: skip

PRICE = _f(ReferencePrice, "price")
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
    """(instrument id, quantity, latest price or None, average cost, sector, currency,
    multiplier) of each position that is not flat."""
    return (
        f"SELECT p.instrument_id, p.quantity, ({_LATEST_PRICE}), p.average_cost, i.sector,"
        f" i.currency, i.multiplier FROM {_T[Position]} p"
        f" JOIN {_T[Instrument]} i ON i.id = p.instrument_id"
        " WHERE p.account_id = %s AND p.quantity <> 0",
        [account_id],
        [
            None,
            _f(Position, "quantity"),
            PRICE,
            _f(Position, "average_cost"),
            None,
            None,
            _f(Instrument, "multiplier"),
        ],
    )


def working_exposure(account_id: int) -> Statement:
    """(instrument id, buy quantity, sell quantity, buy notional, sell notional, sector,
    currency); the notionals are in the instrument's currency, multiplier included."""
    w = WorkingExposure
    return (
        "SELECT w.instrument_id, w.buy_quantity, w.sell_quantity, w.buy_notional,"
        f" w.sell_notional, i.sector, i.currency FROM {_T[w]} w"
        f" JOIN {_T[Instrument]} i ON i.id = w.instrument_id WHERE w.account_id = %s",
        [account_id],
        [None]
        + [_f(w, n) for n in ("buy_quantity", "sell_quantity", "buy_notional", "sell_notional")],
    )


def daily_activity(account_id: int, day) -> Statement:
    """(orders submitted, orders canceled) of the account on a UTC day."""
    a = AccountDailyActivity
    return (
        f"SELECT orders_submitted, orders_canceled FROM {_T[a]}"
        " WHERE account_id = %s AND date = %s",
        [account_id, _f(a, "date").get_db_prep_value(day, sql.connection)],
        (),
    )


def daily_filled(account_id: int, day) -> Statement:
    """(currency, filled notional) of the account's fills booked on a UTC day."""
    f = AccountDailyFilled
    return (
        f"SELECT currency, filled_notional FROM {_T[f]} WHERE account_id = %s AND date = %s",
        [account_id, _f(f, "date").get_db_prep_value(day, sql.connection)],
        [None, _f(f, "filled_notional")],
    )


_CODE = "CAST(%s AS VARCHAR(3))"


def fx_rates(
    *, account_id: int, day, currencies: list[str], anchors: list[str], now, firm_wide: bool
) -> Statement:
    """(base, quote, rate, as of) of the latest rate, as of `now`, of every pair between a
    currency the account's amounts are in (`currencies`, its positions, working orders and the
    day's fills; with `firm_wide`, every instrument's) and one of `anchors` (the account's base
    currency and the firm's): what a conversion into either may take, directly, inverted or
    through the firm's currency (apps.trading.fx). One index probe per pair; none when every
    amount is already in the anchors' currency."""
    day_param = _f(AccountDailyFilled, "date").get_db_prep_value(day, sql.connection)
    currencies = sorted({*currencies, *anchors})  # a cross converts between the anchors too
    given = " UNION ".join(f"SELECT {_CODE}" for _ in currencies)
    held = (
        f" UNION SELECT i.currency FROM {_T[Position]} p"
        f" JOIN {_T[Instrument]} i ON i.id = p.instrument_id"
        " WHERE p.account_id = %s AND p.quantity <> 0"
        f" UNION SELECT i.currency FROM {_T[WorkingExposure]} w"
        f" JOIN {_T[Instrument]} i ON i.id = w.instrument_id WHERE w.account_id = %s"
        f" UNION SELECT currency FROM {_T[AccountDailyFilled]} WHERE account_id = %s AND date = %s"
    )
    if firm_wide:
        held += f" UNION SELECT currency FROM {_T[Instrument]}"
    anchor = " UNION ".join(f"SELECT {_CODE}" for _ in anchors)
    latest = (
        f"SELECT r2.id FROM {_T[FxRate]} r2 WHERE r2.base = pair.b AND r2.quote = pair.q"
        " AND r2.as_of <= %s ORDER BY r2.as_of DESC, r2.id DESC LIMIT 1"
    )
    return (
        f"WITH cur(c) AS ({given}{held}), anchor(c) AS ({anchor}),"
        " pair(b, q) AS (SELECT cur.c, anchor.c FROM cur JOIN anchor ON cur.c <> anchor.c"
        " UNION SELECT anchor.c, cur.c FROM cur JOIN anchor ON cur.c <> anchor.c)"
        f" SELECT r.base, r.quote, r.rate, r.as_of FROM pair JOIN {_T[FxRate]} r"
        f" ON r.id = ({latest})",
        [
            *currencies,
            account_id,
            account_id,
            account_id,
            day_param,
            *anchors,
            sql.param_datetime(now),
        ],
        [None, None, _f(FxRate, "rate"), _f(FxRate, "as_of")],
    )


def firm_notional(day) -> Statement:
    """(currency, amount) of the whole firm: the working notional of every account, then the
    notional filled on a UTC day, each summed per currency (the firm-wide capital threshold)."""
    w, f = WorkingExposure, AccountDailyFilled
    return (
        f"SELECT i.currency, SUM(w.buy_notional + w.sell_notional) FROM {_T[w]} w"
        f" JOIN {_T[Instrument]} i ON i.id = w.instrument_id GROUP BY i.currency"
        f" UNION ALL SELECT currency, SUM(filled_notional) FROM {_T[f]} WHERE date = %s"
        " GROUP BY currency",
        [_f(f, "date").get_db_prep_value(day, sql.connection)],
        [None, _f(w, "buy_notional")],
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
    """When the latest non-rejected order of the account with the same instrument, side,
    quantity and price was created, if since `since`."""
    order = _f(Order, "quantity")
    where = (
        "account_id = %s AND instrument_id = %s AND side = %s AND quantity = %s"
        " AND created_at >= %s AND status <> %s"
    )
    params = [
        account_id,
        instrument_id,
        side,
        order.get_db_prep_save(quantity, sql.connection),
        sql.param_datetime(since),
        OrderStatus.REJECTED.value,
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
