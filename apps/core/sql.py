"""Plain SQL for the hot paths (the pre-trade gate, the books it updates, the audit append).

Building a query through the ORM costs far more Python than running it (here about 0.4 ms
against 30 µs for the same SELECT on a cursor), and an order passes through some twenty of them.
The statements here are built once per model and kept; values go in through each field's own
`get_db_prep_save` and come out through the same converters the ORM applies (SQLite hands
decimals back as floats and times as text), so both paths read and write identical values.
Use these only where a profile shows the ORM's cost; everything else stays on the ORM.
"""

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def for_update() -> str:
    """The row-lock suffix, or nothing where the database locks whole (SQLite)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def param_datetime(value):
    """A datetime as the backend stores it (SQLite: naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


@cache
def _converters(field: Field) -> tuple:
    col = field.get_col(field.model._meta.db_table)
    return tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection)), col


def convert(value, field: Field | None):
    """A value read by plain SQL, as the ORM would have returned it for `field`."""
    if field is None:
        return value
    converters, col = _converters(field)
    for converter in converters:
        value = converter(value, col, connection)
    return value


def rows(sql: str, params: Sequence = (), fields: Sequence[Field | None] = ()) -> list[tuple]:
    """Run a SELECT; the i-th column is converted as fields[i] (None or absent: as is)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return _converted(fetched, fields)


Statement = tuple[str, Sequence, Sequence[Field | None]]  # SQL, parameters, column fields


def _converted(fetched: list[tuple], fields: Sequence[Field | None]) -> list[tuple]:
    if not fields:
        return fetched
    columns = list(fields)
    out = []
    for row in fetched:
        columns += [None] * (len(row) - len(columns))
        out.append(tuple(convert(v, f) for v, f in zip(row, columns, strict=False)))
    return out


def batch(statements: Sequence[Statement]) -> list[list[tuple]]:
    """Several SELECTs, in one round trip where the driver allows it (PostgreSQL with
    client-side binding, the default: the statements go as one string and each result set is
    read in turn); one after the other elsewhere (SQLite runs in process: no round trips).

    On PostgreSQL, moreover: the statements marked `single` go as one statement; a statement
    marked `carrying`, sent alone, takes the writes queued behind as CTEs of itself; each
    statement goes as EXECUTE of its prepared form; and a batch that opens the transaction
    carries its BEGIN. Each of these is described below."""
    if not statements:
        return []
    if not _one_trip():
        return [rows(*statement) for statement in statements]
    singles = [i for i, statement in enumerate(statements) if isinstance(statement, Single)]
    if len(singles) > 1:
        return _with_singles_merged(statements, singles)
    if len(statements) == 1 and isinstance(statements[0], Carrier):
        statements = [_with_writes_in_front(statements[0])]
    params = [p for statement in statements for p in statement[1]]
    out = []
    with connection.cursor() as cursor:
        joined = "; ".join(_prepared(statements))
        with _begin_sent_with(cursor) as begin:
            cursor.execute(f"{begin}{joined}", params)
            if begin:
                cursor.nextset()  # past BEGIN's own result
            for i, (_sql, _params, fields) in enumerate(statements):
                if i:
                    cursor.nextset()
                out.append(_converted(cursor.fetchall(), fields))
    return out


# --- single-row statements, merged ---------------------------------------------------------------


class Single(tuple):
    """A statement that returns one row or none, and how many columns (`single`). In a batch
    on PostgreSQL the single-row statements go as one statement, each a lateral subquery of it
    (with a column that says whether it found its row): one plan and one execution instead of
    one each. They then share one snapshot: put a statement that must come first (a lock) in
    the batch as an ordinary statement."""

    columns: int


def single(statement: Statement, columns: int) -> Statement:
    marked = Single(statement)
    marked.columns = columns
    return marked


def _with_singles_merged(statements: Sequence[Statement], singles: list[int]) -> list[list[tuple]]:
    parts, params = [], []
    for n, i in enumerate(singles):
        text, values, _fields = statements[i]
        parts.append(f" LEFT JOIN LATERAL (SELECT true, q.* FROM ({text}) AS q) AS s{n} ON true")
        params += list(values)
    merged = (f"SELECT * FROM (SELECT 1) AS one{''.join(parts)}", params, ())
    plan = [s for i, s in enumerate(statements) if i not in set(singles)]
    plan.insert(singles[0], merged)
    fetched = batch(plan)
    merged_rows = fetched.pop(singles[0])
    if len(merged_rows) != 1:  # a statement marked single gave several rows
        raise ValueError(f"single-row statements gave {len(merged_rows)} rows, not one")
    row = merged_rows[0]
    out: list[list[tuple] | None] = [None] * len(statements)
    rest = iter(fetched)
    for i in range(len(statements)):
        if i not in singles:
            out[i] = next(rest)
    at = 1  # after the "one" column
    for i in singles:
        statement = statements[i]
        found, values = row[at], row[at + 1 : at + 1 + statement.columns]
        at += 1 + statement.columns
        out[i] = _converted([tuple(values)], statement[2]) if found else []
    if at != len(row):
        raise ValueError(f"single-row statements declared {at} columns, the row has {len(row)}")
    return out


# --- writes carried as part of a statement ------------------------------------------------------


class Carrier(tuple):
    """A write that reads nothing the queued writes write (`carrying`): on PostgreSQL they go
    as data-modifying CTEs of this one statement (`WITH w0 AS (INSERT ...), ... INSERT ...`):
    one statement, one plan, instead of one each."""


def carrying(statement: Statement) -> Statement:
    return Carrier(statement)


_WRITTEN = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+("[^"]+"|\w+)', re.I)


def _written_table(text: str) -> str | None:
    found = _WRITTEN.match(text)
    return found.group(1).strip('"') if found else None


def _with_writes_in_front(statement: Statement) -> Statement:
    pending = getattr(connection, _PENDING, None)
    if not pending:
        return statement
    tables = [_written_table(text) for text, _params in pending]
    if None in tables or len(set(tables)) != len(tables):
        # Two writes to one table may touch one row, or the second depend on the first: CTEs
        # of one statement share one snapshot and cannot see each other's changes (an update
        # would be lost, an upsert refused), so they go one after the other, in front of it.
        return statement
    queued = pending[:]
    pending.clear()
    _count_carried(len(queued))
    text, params, fields = statement
    ctes = ", ".join(f"w{n} AS ({queued_text})" for n, (queued_text, _p) in enumerate(queued))
    values = [value for _text, queued_params in queued for value in queued_params]
    return (f"WITH {ctes} {text}", [*values, *params], fields)


# --- prepared statements ----------------------------------------------------------------------
#
# Planning the gate's twenty short reads costs the server more than running them (about 1.3 ms
# against 0.4 ms an order). Each statement a batch sends is prepared once per connection
# (PREPARE, in a round trip of its own the first time it is seen there) and then sent as
# EXECUTE name(values) in the batch's one string: the server neither parses nor plans it again
# (after its first runs it keeps a generic plan). A statement the server cannot prepare (a
# parameter whose type it cannot infer) is sent as it is, always, on that connection. The
# names live as long as the connection (a pooler that shares server sessions across clients
# must keep them: PgBouncer in session mode, not transaction mode).

_PREPARED = "_sql_prepared"
PREPARED_MAX = 200  # statements prepared per connection; the rest go as they are
_NAMES = itertools.count(1)  # never a name twice in a process (a refused group may leave some)


def _prepared(statements: Sequence[Statement]) -> list[str]:
    """The text to send for each statement: EXECUTE of its prepared form, or itself."""
    raw = connection.connection
    known: dict[str, str | None] = getattr(raw, _PREPARED, None)
    if known is None:
        known = {}
        setattr(raw, _PREPARED, known)
    new = list(dict.fromkeys(text for text, _p, _f in statements if text not in known))
    room = PREPARED_MAX - len(known)
    if new and room > 0:
        _prepare(raw, new[:room], known)
    out = []
    for text, params, _fields in statements:
        name = known.get(text)
        if name is None:
            out.append(text)
        elif params:
            out.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})")
        else:
            out.append(f"EXECUTE {name}")
    return out


def _prepare(raw, texts: list[str], known: dict[str, str | None]) -> None:
    """PREPARE `texts` on the connection, in one round trip (inside a savepoint when a
    transaction is open, so that one the server refuses leaves the transaction as it was);
    when one is refused, each is tried alone and the refused ones are marked as such. Sent on
    the driver's own cursor: nothing queued to go behind rides with it."""
    from psycopg.pq import TransactionStatus

    status = raw.info.transaction_status
    if status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
        return  # a failed transaction: the batch will fail on its own; prepare another time
    in_transaction = status == TransactionStatus.INTRANS

    def attempt(group: list[str]) -> bool:
        names = [f"sql_{next(_NAMES)}" for _ in group]
        script = "; ".join(
            f"PREPARE {name} AS {_numbered(text)}" for name, text in zip(names, group, strict=True)
        )
        if in_transaction:
            script = f"SAVEPOINT sql_prepare; {script}; RELEASE SAVEPOINT sql_prepare"
        with raw.cursor() as cursor:
            try:
                with _no_begin(raw, in_transaction):
                    cursor.execute(script)
            except raw.DatabaseError:
                if in_transaction:
                    with connection.wrap_database_errors:
                        cursor.execute(
                            "ROLLBACK TO SAVEPOINT sql_prepare; RELEASE SAVEPOINT sql_prepare"
                        )
                return False
        known.update(zip(group, names, strict=True))
        return True

    if attempt(texts) or len(texts) == 1:
        if len(texts) == 1 and texts[0] not in known:
            known[texts[0]] = None
        return
    for text in texts:
        if not attempt([text]):
            known[text] = None


@contextmanager
def _no_begin(raw, in_transaction: bool) -> Iterator[None]:
    """Outside a transaction, PREPARE needs none: the driver is told not to open one."""
    if in_transaction or raw.autocommit:
        yield
        return
    raw._autocommit = True
    try:
        yield
    finally:
        raw._autocommit = False


def _numbered(text: str) -> str:
    """The statement with its `%s` placeholders as `$1`, `$2`... (PREPARE's), `%%` as `%`."""
    parts = text.replace("%%", "\0").split("%s")
    out = parts[0]
    for number, part in enumerate(parts[1:], 1):
        out += f"${number}{part}"
    return out.replace("\0", "%")


@contextmanager
def _begin_sent_with(cursor) -> Iterator[str]:
    """When this batch is the transaction's first statement, the driver would send BEGIN in a
    round trip of its own first (psycopg, outside autocommit): it goes at the head of the batch
    instead ("BEGIN; ..."), the driver told not to send its own for this statement. Yields the
    prefix, "" when there is nothing to begin (autocommit, a transaction already open, writes
    queued to go first)."""
    from psycopg.pq import TransactionStatus

    raw = connection.connection
    if (
        raw is None
        or raw.autocommit
        or raw.info.transaction_status != TransactionStatus.IDLE
        or getattr(raw, "_pipeline", None)
        or getattr(connection, _PENDING, None)
        or not hasattr(raw, "_get_tx_start_command")
    ):
        yield ""
        return
    begin = raw._get_tx_start_command().decode()
    raw._autocommit = True  # read by psycopg's _start_query: no BEGIN of its own
    try:
        yield f"{begin}; "
    finally:
        raw._autocommit = False


def _one_trip() -> bool:
    return connection.vendor == "postgresql" and not connection.settings_dict.get(
        "OPTIONS", {}
    ).get("server_side_binding")


def one(sql: str, params: Sequence = (), fields: Sequence[Field | None] = ()) -> tuple | None:
    found = rows(sql, params, fields)
    return found[0] if found else None


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def field(model: type[Model], name: str) -> Field:
    return model._meta.get_field(name)


# --- whole rows as model instances ------------------------------------------------------------


@cache
def _select(model: type[Model]) -> tuple[str, tuple[Field, ...]]:
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(f.column) for f in fields)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)}", fields


def select_statement(
    model: type[Model], where: str, params: Sequence = (), *, lock: bool = False, tail: str = ""
) -> Statement:
    """A SELECT of all the model's concrete fields, for `instances` or `batch`."""
    select, fields = _select(model)
    return f"{select} WHERE {where}{tail}{for_update() if lock else ''}", params, fields


def as_instances(model: type[Model], fetched: list[tuple]) -> list[Model]:
    names = [f.attname for f in _select(model)[1]]
    return [model.from_db(connection.alias, names, row) for row in fetched]


def instances(
    model: type[Model], where: str, params: Sequence = (), *, lock: bool = False, tail: str = ""
) -> list[Model]:
    """Model instances (all concrete fields) for a WHERE clause in plain SQL."""
    return as_instances(model, rows(*select_statement(model, where, params, lock=lock, tail=tail)))


def instance(model: type[Model], where: str, params: Sequence = (), **kwargs) -> Model | None:
    found = instances(model, where, params, **kwargs)
    return found[0] if found else None


# --- writes -----------------------------------------------------------------------------------


@cache
def _insert(model: type[Model]) -> tuple[str, tuple[Field, ...], bool]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not (f.primary_key and _auto(f)))
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    returning = _auto(meta.pk) and connection.features.can_return_columns_from_insert
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields, returning


def _auto(field: Field) -> bool:
    return field.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField")


def _insert_params(obj: Model, fields) -> list:
    return [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]


def insert(
    obj: Model, *, then: Sequence[tuple[str, Sequence]] = (), defer_write: bool = False
) -> Model:
    """INSERT one new row (auto_now fields set, defaults applied, as Model.save would) and set
    its primary key. No signals: use only for models that have no receivers.

    `then`: further statements (SQL, parameters) without results, sent in the same round trip
    where the driver allows it (a row whose key is not generated only).

    `defer_write`: inside `write_behind`, the INSERT waits for the next statement (`defer`); a
    row whose key the database generates then keeps no key (for rows nobody refers to)."""
    sql, fields, returning = _insert(type(obj))
    auto = _auto(obj._meta.pk)
    if defer_write and deferring():
        if auto and obj.pk is not None:  # a key taken beforehand (`next_id`)
            fields = (obj._meta.pk, *fields)
            sql = _insert_with_key(type(obj))
        params = _insert_params(obj, fields)
        defer(sql.split(" RETURNING ")[0], params)
        obj._state.adding = False
        obj._state.db = connection.alias
        return obj
    params = _insert_params(obj, fields)
    if then and not auto:
        run_all([(sql, params), *then])
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if auto:
                pk = cursor.fetchone()[0] if returning else cursor.lastrowid
                setattr(obj, obj._meta.pk.attname, pk)
        run_all(then)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


@cache
def _insert_with_key(model: type[Model]) -> str:
    meta = model._meta
    fields = (meta.pk, *_insert(model)[1])
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"


def next_id_statement(model: type[Model]) -> Statement:
    """PostgreSQL: the next key of the model's table, taken now (for a `batch`), so that a row
    inserted later can be written behind (`insert(..., defer_write=True)`) and still be referred
    to by the statements after it (an audit event names the order)."""
    meta = model._meta
    return single(
        (
            "SELECT nextval(pg_get_serial_sequence(%s, %s))",
            [quote(meta.db_table), meta.pk.column],
            (),
        ),
        1,
    )


def run_all(statements: Sequence[tuple[str, Sequence]]) -> None:
    """Statements without results, in one round trip where the driver allows it."""
    if not statements:
        return
    with connection.cursor() as cursor:
        if _one_trip():
            cursor.execute(
                "; ".join(s for s, _ in statements), [p for _, ps in statements for p in ps]
            )
        else:
            for statement, params in statements:
                cursor.execute(statement, params)


def add_to(
    obj: Model, key: Sequence[str], add: Sequence[str], *, defer_write: bool = False
) -> None:
    """PostgreSQL: add the `add` fields of `obj` to the stored row that matches it on `key`
    (exact numeric arithmetic in one UPDATE, auto_now fields refreshed); with no such row,
    INSERT it (ON CONFLICT adds, for two first writers at once). Not an upsert alone: a CHECK
    constraint judges the row to insert, and a negative increment is not a valid row.

    `defer_write`, inside `write_behind` and when no increment is negative (the row to insert
    is then valid): one INSERT ... ON CONFLICT DO UPDATE, written behind (`defer`)."""
    meta = obj._meta
    table = quote(meta.db_table)
    added = [meta.get_field(n) for n in add]
    if defer_write and deferring() and all(getattr(obj, f.attname) >= 0 for f in added):
        _upsert_behind(obj, key, added)
        return
    sets = [f"{quote(f.column)} = {quote(f.column)} + %s" for f in added]
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in added]
    for f in meta.concrete_fields:
        if getattr(f, "auto_now", False):
            sets.append(f"{quote(f.column)} = %s")
            params.append(f.get_db_prep_save(f.pre_save(obj, add=False), connection))
    keys = [meta.get_field(n) for n in key]
    where = " AND ".join(f"{quote(f.column)} = %s" for f in keys)
    params += [f.get_db_prep_value(getattr(obj, f.attname), connection) for f in keys]
    if execute(f"UPDATE {table} SET {', '.join(sets)} WHERE {where}", params):
        return
    sql, fields, _returning = _insert(type(obj))
    on_conflict = ", ".join(
        f"{quote(f.column)} = {table}.{quote(f.column)} + EXCLUDED.{quote(f.column)}" for f in added
    )
    execute(
        f"{sql.split(' RETURNING ')[0]} ON CONFLICT ({', '.join(quote(f.column) for f in keys)})"
        f" DO UPDATE SET {on_conflict}",
        _insert_params(obj, fields),
    )


def update(obj: Model, names: Iterable[str]) -> None:
    """UPDATE the named fields of one row (auto_now fields among them refreshed)."""
    meta = obj._meta
    fields = [meta.get_field(n) for n in names]
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    params: list[Any] = [f.get_db_prep_save(f.pre_save(obj, add=False), connection) for f in fields]
    params.append(obj.pk)
    execute(f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s", params)


def _upsert_behind(obj: Model, key: Sequence[str], added: Sequence[Field]) -> None:
    meta = obj._meta
    table = quote(meta.db_table)
    sql, fields, _returning = _insert(type(obj))
    sets = [
        f"{quote(f.column)} = {table}.{quote(f.column)} + EXCLUDED.{quote(f.column)}" for f in added
    ]
    sets += [
        f"{quote(f.column)} = EXCLUDED.{quote(f.column)}"
        for f in meta.concrete_fields
        if getattr(f, "auto_now", False)
    ]
    conflict = ", ".join(quote(meta.get_field(n).column) for n in key)
    defer(
        f"{sql.split(' RETURNING ')[0]} ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(sets)}",
        _insert_params(obj, fields),
    )


# --- write-behind -----------------------------------------------------------------------------
#
# A write whose result nobody reads need not cost a round trip of its own: inside
# `write_behind` (PostgreSQL), `defer` queues it and the next statement sent on the connection,
# whatever sends it (the ORM included), carries the queue in front of it, in order; what is
# left goes when the block ends, before the transaction commits. An error in a queued write
# fails the statement that carried it, inside the same transaction: nothing is committed.

_PENDING = "_write_behind_pending"


def deferring() -> bool:
    return getattr(connection, _PENDING, None) is not None


def defer(statement: str, params: Sequence = ()) -> None:
    """A write without results: queued inside `write_behind`, run now elsewhere."""
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        execute(statement, params)
        return
    pending.append((statement, list(params)))


@contextmanager
def write_behind() -> Iterator[None]:
    """Queue `defer`red writes to go with the next statement (see above). Use it inside the
    transaction whose writes it queues; PostgreSQL with client-side binding only (elsewhere,
    and nested, it does nothing: writes run as they come)."""
    if not _one_trip() or deferring():
        yield
        return
    pending: list[tuple[str, list]] = []
    setattr(connection, _PENDING, pending)
    try:
        with connection.execute_wrapper(_carry_pending):
            yield
            if pending:
                queued = pending[:]
                pending.clear()
                run_all(queued)
                _count_carried(len(queued))
    finally:
        setattr(connection, _PENDING, None)


def _carry_pending(execute, sql, params, many, context):
    pending = getattr(context["connection"], _PENDING, None)
    if not pending:
        return execute(sql, params, many, context)
    queued = pending[:]
    pending.clear()
    _count_carried(len(queued))
    if _one_trip():
        joined = "; ".join(_prepared([(s, ps, ()) for s, ps in queued]))
    else:
        joined = "; ".join(s for s, _ in queued)
    queued_params = [p for _, ps in queued for p in ps]
    raw = getattr(context["cursor"], "cursor", None)
    if many or getattr(raw, "name", None):  # executemany, or a named (server-side) cursor
        with context["connection"].cursor() as cursor:
            cursor.execute(joined, queued_params)
        return execute(sql, params, many, context)
    if params is None:  # no parameters: its % signs were not placeholders
        sql, params = sql.replace("%", "%%"), ()
    result = execute(f"{joined}; {sql}", [*queued_params, *params], False, context)
    cursor = context["cursor"]
    for _ in queued:  # to the statement's own result
        cursor.nextset()
    return result


def _count_carried(n: int) -> None:
    """How many statements went behind others (for the statement counts the tests pin)."""
    connection.written_behind = getattr(connection, "written_behind", 0) + n
