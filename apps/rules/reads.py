"""The gate's reads, in plain SQL (see apps/core/sql.py for why). Each function here builds one
short statement on an index, with the fields that convert its columns; the gate sends them in
two batches per order (one round trip each on PostgreSQL).
"""

from datetime import datetime, timedelta

from apps.core import sql
from apps.core.sql import Statement
from apps.killswitch.models import KillSwitch
from apps.rules.checks.base import CROSSING_LIMIT
from apps.rules.models import RestrictedListEntry, RuleSetVersion
from apps.trading.models import (
    SELL_SIDES,
    WORKING_STATUSES,
    Account,
    AccountDailyActivity,
    AccountDailyFilled,
    AccountEntitlement,
    BeneficialOwner,
    Fill,
    FillStatus,
    FxRate,
    Instrument,
    Locate,
    Order,
    OrderMessage,
    OrderStatus,
    Position,
    ReferencePrice,
    WorkingExposure,
    is_sell,
)

_f = sql.field
_T = {m: sql.quote(m._meta.db_table) for m in (
    AccountDailyActivity, Fill, Instrument, Order, Position, ReferencePrice, WorkingExposure,
    OrderMessage, BeneficialOwner, Account, KillSwitch, RestrictedListEntry, RuleSetVersion,
    Locate, AccountDailyFilled, FxRate, AccountEntitlement,
)}  # fmt: skip

PRICE = _f(ReferencePrice, "price")
_WORKING = sorted(s.value for s in WORKING_STATUSES)
_LATEST_PRICE = (
    f"SELECT r.price FROM {_T[ReferencePrice]} r WHERE r.instrument_id = p.instrument_id"
    " ORDER BY r.as_of DESC, r.id DESC LIMIT 1"
)


def ruleset_version() -> Statement:
    return sql.single((f"SELECT version FROM {_T[RuleSetVersion]} WHERE id = 1", (), ()), 1)


def account_locked(account_id: int) -> Statement:
    """The account row, locked until the transaction ends: one order at a time per account."""
    return sql.select_statement(Account, "id = %s", [account_id], lock=True)


def entitlement(account_id: int, user_id: int) -> Statement:
    """A row when the user is entitled to the account (the market-access rule)."""
    return sql.single(
        (
            f"SELECT 1 FROM {_T[AccountEntitlement]} WHERE account_id = %s AND user_id = %s",
            [account_id, user_id],
            (),
        ),
        1,
    )


def order_by_client_id(account_id: int, client_order_id: str) -> Statement:
    """(id, request digest) of the account's order with this client_order_id, if any."""
    return sql.single(
        (
            f"SELECT id, request_digest FROM {_T[Order]} WHERE account_id = %s"
            " AND client_order_id = %s",
            [account_id, client_order_id],
            (),
        ),
        2,
    )


def reference_price(instrument_id: int) -> Statement:
    """(price, as of) of the instrument's latest reference price."""
    return sql.single(
        (
            f"SELECT price, as_of FROM {_T[ReferencePrice]} WHERE instrument_id = %s"
            " ORDER BY as_of DESC, id DESC LIMIT 1",
            [instrument_id],
            [PRICE, _f(ReferencePrice, "as_of")],
        ),
        2,
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


def daily_figures(account_id: int, day) -> Statement:
    """Today's figures of the account (UTC day) in one statement: a row (None, None, orders
    submitted, orders canceled) when it has sent orders, and a row (currency, filled notional,
    None, None) per currency it has filled in."""
    a, f = AccountDailyActivity, AccountDailyFilled
    date = _f(a, "date").get_db_prep_value(day, sql.connection)
    return (
        f"SELECT NULL, NULL, orders_submitted, orders_canceled FROM {_T[a]}"
        " WHERE account_id = %s AND date = %s"
        f" UNION ALL SELECT currency, filled_notional, NULL, NULL FROM {_T[f]}"
        " WHERE account_id = %s AND date = %s",
        [account_id, date, account_id, date],
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
    return sql.single(
        (
            f"SELECT COUNT(*) FROM {_T[Order]} WHERE account_id = %s AND created_at >= %s",
            [account_id, sql.param_datetime(since)],
            (),
        ),
        1,
    )


def messages_sent(*, of: str, key: int, now: datetime, past: bool = False) -> Statement:
    """(messages in the last minute, of which in the last second) of the account
    (`of="account"`) or of the user on every account (`of="user"`) with the id `key`: new
    orders, amendments and cancels (`OrderMessage`). With `past` (a replay, `now` being an
    order's own time) those sent at `now` or after are left out."""
    column = {"account": "account_id", "user": "user_id"}[of]
    where = f"{column} = %s AND sent_at >= %s"
    params = [key, sql.param_datetime(now - timedelta(seconds=60))]
    if past:
        where += " AND sent_at < %s"
        params.append(sql.param_datetime(now))
    return sql.single(
        (
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN sent_at >= %s THEN 1 ELSE 0 END), 0)"
            f" FROM {_T[OrderMessage]} WHERE {where}",
            [sql.param_datetime(now - timedelta(seconds=1)), *params],
            (),
        ),
        2,
    )


def filled_quantity_since(account_id: int, instrument_id: int, since: datetime) -> Statement:
    return sql.single(
        (
            f"SELECT SUM(f.quantity) FROM {_T[Fill]} f JOIN {_T[Order]} o ON o.id = f.order_id"
            " WHERE o.account_id = %s AND o.instrument_id = %s AND f.executed_at >= %s"
            " AND f.status = %s",
            [account_id, instrument_id, sql.param_datetime(since), FillStatus.ACTIVE.value],
            [_f(Fill, "quantity")],
        ),
        1,
    )


def latest_duplicate(
    *, account_id, instrument_id, side, quantity, limit_price, since, exclude_id=None
) -> Statement:
    """When the latest working order (accepted, partially filled, held) of the account with
    the same instrument, direction (buy, or any sale), quantity and price was created, if since
    `since`. A filled or canceled one is not a duplicate's original: an algorithm slicing a
    parent order sends the next child of the same size once the previous one has filled."""
    order = _f(Order, "quantity")
    # A sale is the same sale however it is marked (long, short, short exempt).
    sides = sorted(SELL_SIDES) if is_sell(side) else [side]
    where = (
        f"account_id = %s AND instrument_id = %s AND side IN ({', '.join(['%s'] * len(sides))})"
        " AND quantity = %s AND created_at >= %s"
        f" AND status IN ({', '.join(['%s'] * len(_WORKING))})"
    )
    params = [
        account_id,
        instrument_id,
        *sides,
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
    return sql.single(
        (
            f"SELECT MAX(created_at) FROM {_T[Order]} WHERE {where}",
            params,
            [_f(Order, "created_at")],
        ),
        1,
    )


def crossing_orders(
    *,
    owner_id: int,
    account_id: int,
    instrument_id: int,
    side: str,
    limit_price,
    exclude_id: int | None = None,
) -> Statement:
    """(id, client order id, account id, account code, owner name, side, order type, limit
    price, quantity, filled quantity, status) of the working orders of the beneficial owner's
    accounts in the instrument on the other side that an order at `limit_price` (None: a market
    order) would trade against: a buy at or above a sell's limit, a sell at or below a buy's,
    anything against a market order. The account's own first, then oldest first."""
    o, a, b = _T[Order], _T[Account], _T[BeneficialOwner]
    buying = side == "buy"
    # Every side but a buy sells (short sales included): the other side of a buy is any of them.
    other = sorted(SELL_SIDES) if buying else ["buy"]
    where = f"o.side IN ({', '.join(['%s'] * len(other))})"
    params: list = [owner_id, instrument_id, *other]
    if limit_price is not None:
        where += f" AND (o.order_type = %s OR o.limit_price {'<=' if buying else '>='} %s)"
        params += ["market", _f(Order, "limit_price").get_db_prep_save(limit_price, sql.connection)]
    if exclude_id is not None:
        where += " AND o.id <> %s"
        params.append(exclude_id)
    statuses = ", ".join(["%s"] * len(_WORKING))
    return (
        "SELECT o.id, o.client_order_id, o.account_id, a.code, b.name, o.side, o.order_type,"
        f" o.limit_price, o.quantity, o.filled_quantity, o.status FROM {o} o"
        f" JOIN {a} a ON a.id = o.account_id JOIN {b} b ON b.id = a.beneficial_owner_id"
        # Driven by the owner's accounts, on the (account, instrument, side, status) index: a
        # busy instrument's other orders, and the order's own side, are never read.
        f" WHERE o.account_id IN (SELECT id FROM {a} WHERE beneficial_owner_id = %s)"
        f" AND o.instrument_id = %s AND o.status IN ({statuses}) AND {where}"
        f" ORDER BY CASE WHEN o.account_id = %s THEN 0 ELSE 1 END, o.id LIMIT {CROSSING_LIMIT}",
        [owner_id, instrument_id, *_WORKING, *params[2:], account_id],
        [None] * 7 + [_f(Order, n) for n in ("limit_price", "quantity", "filled_quantity")],
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


def account_locate(locate_id: int, account_id: int) -> Statement:
    """(id, instrument id, lender, quantity, expires at) of the account's locate, if any."""
    return sql.single(
        (
            f"SELECT id, instrument_id, lender, quantity, expires_at FROM {_T[Locate]}"
            " WHERE id = %s AND account_id = %s",
            [locate_id, account_id],
            [None, None, None, _f(Locate, "quantity"), _f(Locate, "expires_at")],
        ),
        5,
    )


def locate_orders(locate_id: int, exclude_id: int | None = None) -> Statement:
    """(status, quantity, filled quantity) of the orders that name the locate, but the one
    judged again (`apps.trading.models.locate_used` sums what they use)."""
    where, params = "locate_id = %s AND status <> %s", [locate_id, OrderStatus.REJECTED.value]
    if exclude_id is not None:
        where += " AND id <> %s"
        params.append(exclude_id)
    return (
        f"SELECT status, quantity, filled_quantity FROM {_T[Order]} WHERE {where}",
        params,
        [None, _f(Order, "quantity"), _f(Order, "filled_quantity")],
    )
