"""Plain SQL for the hot paths (the pre-trade gate, the books it updates, the audit append).

Building a query through the ORM costs far more Python than running it (here about 0.4 ms
against 30 µs for the same SELECT on a cursor), and an order passes through some twenty of them.
The statements here are built once per model and kept; values go in through each field's own
`get_db_prep_save` and come out through the same converters the ORM applies (SQLite hands
decimals back as floats and times as text), so both paths read and write identical values.
Use these only where a profile shows the ORM's cost; everything else stays on the ORM.
"""

from collections.abc import Iterable, Sequence
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
    if not fields:
        return fetched
    out = []
    for row in fetched:
        out.append(
            tuple(convert(v, fields[i] if i < len(fields) else None) for i, v in enumerate(row))
        )
    return out


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


def instances(
    model: type[Model], where: str, params: Sequence = (), *, lock: bool = False, tail: str = ""
) -> list[Model]:
    """Model instances (all concrete fields) for a WHERE clause in plain SQL."""
    select, fields = _select(model)
    sql = f"{select} WHERE {where}{tail}{for_update() if lock else ''}"
    names = [f.attname for f in fields]
    return [model.from_db(connection.alias, names, row) for row in rows(sql, params, fields)]


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


def insert(obj: Model) -> Model:
    """INSERT one new row (auto_now fields set, defaults applied, as Model.save would) and set
    its primary key. No signals: use only for models that have no receivers."""
    sql, fields, returning = _insert(type(obj))
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if _auto(obj._meta.pk):
            pk = cursor.fetchone()[0] if returning else cursor.lastrowid
            setattr(obj, obj._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def update(obj: Model, names: Iterable[str]) -> None:
    """UPDATE the named fields of one row (auto_now fields among them refreshed)."""
    meta = obj._meta
    fields = [meta.get_field(n) for n in names]
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    params: list[Any] = [f.get_db_prep_save(f.pre_save(obj, add=False), connection) for f in fields]
    params.append(obj.pk)
    execute(f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s", params)
