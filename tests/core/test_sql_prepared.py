"""Statements sent by `sql.batch` are prepared once per connection on PostgreSQL and sent as
EXECUTE afterwards (apps/core/sql.py): the same rows either way, a statement the server
cannot prepare still answered (as it is), the transaction around it unharmed."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core import sql


def _known() -> dict:
    return getattr(connection.connection, sql._PREPARED, {})


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def _same_rows_prepared_or_not(db):
    statements = [
        ("SELECT %s::int + 1, %s::numeric * 2", [41, Decimal("1.25")], ()),
        ("SELECT x FROM generate_series(1, %s) AS x ORDER BY x DESC", [3], ()),
        ("SELECT 'a%%b', %s::text", ["c%d"], ()),
        ("SELECT now() >= %s::timestamptz", ["2020-01-01T00:00:00Z"], ()),
    ]
    first = sql.batch(statements)  # prepared now, sent as EXECUTE
    again = sql.batch(statements)
    assert (
        first == again == [[(42, Decimal("2.50"))], [(3,), (2,), (1,)], [("a%b", "c%d")], [(True,)]]
    )
    names = {_known()[text] for text, _p, _f in statements}
    assert None not in names and names <= _prepared_names()


def _unpreparable_statement_answered_and_transaction_unharmed(db):
    ambiguous = "SELECT %s IS NULL"  # the server cannot infer the parameter's type
    with transaction.atomic():
        sql.execute("CREATE TEMPORARY TABLE prep_probe (n int)")
        sql.execute("INSERT INTO prep_probe VALUES (1)")
        assert sql.batch(
            [(ambiguous, [None], ()), ("SELECT count(*) FROM prep_probe", [], ())]
        ) == [
            [(True,)],
            [(1,)],
        ]
        # The refused PREPARE was rolled back to its savepoint: the insert is still there.
        assert sql.one("SELECT count(*) FROM prep_probe") == (1,)
    assert _known()[ambiguous] is None  # sent as it is from now on, never tried again
    assert sql.batch([(ambiguous, ["x"], ())]) == [[(False,)]]


def _a_new_connection_prepares_again(audit_transactional_db):
    text = "SELECT %s::int * 3"
    assert sql.batch([(text, [2], ())]) == [[(6,)]]
    connection.close()
    assert sql.batch([(text, [3], ())]) == [[(9,)]]
    assert _known()[text] in _prepared_names()


def _prepared_statements_per_connection_are_bounded(db, monkeypatch):
    monkeypatch.setattr(sql, "PREPARED_MAX", len(_known()) + 2)
    texts = [f"SELECT %s::int + {n}" for n in range(5)]
    for n, text in enumerate(texts):
        assert sql.batch([(text, [1], ())]) == [[(1 + n,)]]
    assert sum(1 for text in texts if _known().get(text)) == 2


def _single_row_statements_merged_answer_as_alone(db):
    statements = [
        ("SELECT x FROM generate_series(1, 3) AS x ORDER BY x", [], ()),  # several rows
        sql.single(("SELECT %s::int, 'two'", [1], ()), 2),
        sql.single(("SELECT 1 WHERE false", [], ()), 1),  # no row
        ("SELECT 'plain'", [], ()),
        sql.single(("SELECT count(*) FROM generate_series(1, %s)", [4], ()), 1),
    ]
    with connection.cursor() as cursor:
        alone = []
        for text, params, _fields in statements:
            cursor.execute(text, params)
            alone.append([tuple(row) for row in cursor.fetchall()])
    assert (
        sql.batch(statements)
        == alone
        == [
            [(1,), (2,), (3,)],
            [(1, "two")],
            [],
            [("plain",)],
            [(4,)],
        ]
    )


def _a_wrong_column_count_is_an_error_not_a_wrong_answer(db):
    with pytest.raises(ValueError, match="columns"):
        sql.batch([sql.single(("SELECT 1, 2", [], ()), 1), sql.single(("SELECT 3", [], ()), 1)])


def _writes_go_with_their_carrier_as_one_statement(db):
    sql.execute("CREATE TEMPORARY TABLE carried (n int)")
    sql.execute("CREATE TEMPORARY TABLE carried_too (n int)")
    with transaction.atomic(), sql.write_behind(), CaptureQueriesContext(connection) as seen:
        sql.defer("INSERT INTO carried VALUES (%s)", [1])
        sql.defer('INSERT INTO "carried_too" VALUES (%s)', [2])  # another table: both as CTEs
        assert sql.batch([sql.carrying(("SELECT %s::int", [7], ()))]) == [[(7,)]]
        assert not connection._write_behind_pending
    assert len(seen.captured_queries) == 1 and seen.captured_queries[0]["sql"].startswith("EXECUTE")
    assert sql.rows("SELECT n FROM carried") == [(1,)]
    assert sql.rows("SELECT n FROM carried_too") == [(2,)]


def _writes_to_one_table_go_in_front_one_after_the_other(db):
    """An insert and an update of the same row: as CTEs the update would see no row and be
    lost; in front, one after the other, it applies."""
    sql.execute("CREATE TEMPORARY TABLE carried (n int)")
    with transaction.atomic(), sql.write_behind():
        sql.defer("INSERT INTO carried VALUES (%s)", [1])
        sql.defer("UPDATE carried SET n = n + %s", [5])
        sql.batch([sql.carrying(("SELECT 1", [], ()))])
    assert sql.rows("SELECT n FROM carried") == [(6,)]


def _a_single_that_gives_several_rows_is_an_error(db):
    with pytest.raises(ValueError, match="rows"):
        sql.batch(
            [
                sql.single(("SELECT x FROM generate_series(1, 2) AS x", [], ()), 1),
                sql.single(("SELECT 3", [], ()), 1),
            ]
        )


# Prepared statements are a server's: defined where the suite runs on PostgreSQL.
if connection.vendor == "postgresql":
    test_same_rows_prepared_or_not = _same_rows_prepared_or_not
    test_an_unpreparable_statement_is_answered_and_its_transaction_unharmed = (
        _unpreparable_statement_answered_and_transaction_unharmed
    )
    test_a_new_connection_prepares_again = _a_new_connection_prepares_again
    test_single_row_statements_merged_answer_as_alone = (
        _single_row_statements_merged_answer_as_alone
    )
    test_a_wrong_column_count_is_an_error_not_a_wrong_answer = (
        _a_wrong_column_count_is_an_error_not_a_wrong_answer
    )
    test_writes_go_with_their_carrier_as_one_statement = (
        _writes_go_with_their_carrier_as_one_statement
    )
    test_writes_to_one_table_go_in_front_one_after_the_other = (
        _writes_to_one_table_go_in_front_one_after_the_other
    )
    test_a_single_that_gives_several_rows_is_an_error = (
        _a_single_that_gives_several_rows_is_an_error
    )
    test_prepared_statements_per_connection_are_bounded = (
        _prepared_statements_per_connection_are_bounded
    )
else:

    def test_sqlite_sends_each_statement_as_it_is(db):
        assert sql.batch([("SELECT %s + 1", [1], ()), ("SELECT 'a%%b'", [], ())]) == [
            [(2,)],
            [("a%b",)],
        ]


pytestmark = pytest.mark.django_db
