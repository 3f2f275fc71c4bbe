"""apps.core.sql.write_behind: writes queued and sent in front of the next statement, in the
same transaction (PostgreSQL); run at once elsewhere."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core import sql
from apps.trading.models import Account

pytestmark = pytest.mark.django_db
PG = connection.vendor == "postgresql"


def _rename(account: Account, name: str) -> None:
    table = sql.quote(Account._meta.db_table)
    sql.defer(f"UPDATE {table} SET name = %s WHERE id = %s", [name, account.pk])


def test_a_queued_write_goes_with_the_next_statement(account):
    with (
        transaction.atomic(),
        sql.write_behind(),
        CaptureQueriesContext(connection) as captured,
    ):
        _rename(account, "Renamed")
        assert sql.deferring() is PG
        # The ORM's next statement carries it, and sees it.
        assert Account.objects.get(pk=account.pk).name == "Renamed"
    # One statement sent on PostgreSQL (the UPDATE rode in front of the SELECT); two elsewhere.
    assert len(captured.captured_queries) == (1 if PG else 2)
    assert not sql.deferring()


def test_what_is_left_goes_before_the_block_ends(account):
    with transaction.atomic():
        with sql.write_behind():
            _rename(account, "Flushed")
        assert not sql.deferring()
        assert Account.objects.get(pk=account.pk).name == "Flushed"


def test_a_failing_queued_write_fails_the_transaction(account):
    table = sql.quote(Account._meta.db_table)
    with pytest.raises(DatabaseError), transaction.atomic(), sql.write_behind():
        _rename(account, "Never")
        sql.defer(f"UPDATE {table} SET no_such_column = 1 WHERE id = %s", [account.pk])
        Account.objects.filter(pk=account.pk).exists()
    assert Account.objects.get(pk=account.pk).name != "Never"


def test_an_error_drops_the_queue(account):
    with pytest.raises(RuntimeError), transaction.atomic(), sql.write_behind():
        _rename(account, "Dropped")
        raise RuntimeError("the order failed")
    assert not sql.deferring()
    assert Account.objects.get(pk=account.pk).name != "Dropped"


def test_a_statement_without_parameters_keeps_its_percent_signs(account):
    with transaction.atomic(), sql.write_behind():
        _rename(account, "100% renamed")
        with connection.cursor() as cursor:
            cursor.execute("SELECT '50%'")
            assert cursor.fetchone()[0] == "50%"
    assert Account.objects.get(pk=account.pk).name == "100% renamed"
