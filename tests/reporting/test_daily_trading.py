"""The daily trading report against the hand-computed desk (tests/reporting/factories.py)."""

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.reporting.services import report_generate
from tests.reporting.factories import DAY
from tests.reporting.helpers import csv_rows, json_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def generate(officer, fmt, day=DAY, report_type="daily_trading"):
    return report_generate(
        report_type=report_type, period_start=day, period_end=day, fmt=fmt, actor=officer
    )


def test_csv_holds_every_fill_of_the_day_in_execution_order(desk, officer):
    report = generate(officer, "csv")
    rows = csv_rows(report, officer)
    assert report.record_count == 5
    assert [r["exec_id"] for r in rows] == [f.exec_id for f in desk["fills"][1:]]
    first = rows[0]
    assert first == {
        "trade_date": "2026-11-20",
        "trade_time": "2026-11-20T10:00:00.000000Z",
        "account": "ACC-T2",
        "symbol": "SAP",
        "isin": "DE0007164600",
        "side": "buy",
        "quantity": "5",
        "price": "200",
        "multiplier": "1",
        "value": "1000",
        "commission": "2",
        "currency": "EUR",
        "venue": "XETR",
        "liquidity": "added",
        "order_id": str(desk["fills"][1].order_id),
        "client_order_id": desk["fills"][1].order.client_order_id,
        "exec_id": desk["fills"][1].exec_id,
        "trader": "tina",
    }
    assert [r["value"] for r in rows] == ["1000", "1680", "1000", "440", "315"]
    assert [r["venue"] for r in rows] == ["XETR", "XETR", "XNAS", "XNAS", "BATS"]


def test_json_has_the_rows_and_the_totals_by_currency(desk, officer):
    body = json_body(generate(officer, "json"), officer)
    assert body["report"]["report_type"] == "daily_trading"
    assert body["report"]["period_start"] == "2026-11-20"
    assert len(body["rows"]) == 5
    assert body["rows"][2]["symbol"] == "AAPL" and body["rows"][2]["quantity"] == "10"
    totals = body["summary"]["totals"]
    assert totals["Fills"] == 5
    assert totals["Traded value USD"] == "1755"  # 1000 + 440 + 315
    assert totals["Commission USD"] == "1.75"
    assert totals["Traded value EUR"] == "2680"  # 1000 + 1680
    assert totals["Commission EUR"] == "3"
    by_instrument = {r[0]: r for r in body["summary"]["tables"][1]["rows"]}
    # symbol, currency, fills, bought, sold, of which sold short, value, commission
    assert by_instrument["AAPL"] == ["AAPL", "USD", 3, "10", "7", "0", "1755", "1.75"]
    assert by_instrument["SAP"] == ["SAP", "EUR", 2, "5", "8", "0", "2680", "3"]


def test_a_day_without_fills_is_an_empty_report(desk, officer):
    report = generate(officer, "csv", day=DAY.replace(day=18))
    assert report.record_count == 0
    assert csv_rows(report, officer) == []


def test_a_rerun_makes_a_new_version_and_keeps_the_old(desk, officer):
    first = generate(officer, "csv")
    second = generate(officer, "csv")
    assert (first.version, second.version) == (1, 2)
    assert first.file.name != second.file.name
    assert first.file.storage.exists(first.file.name)
    assert csv_rows(first, officer) == csv_rows(second, officer)


def test_generation_is_audited_with_the_hash(desk, officer):
    report = generate(officer, "csv")
    event = AuditEvent.objects.get(event_type="REPORT_GENERATED", object_id=str(report.pk))
    assert event.actor == officer.username
    assert f'"sha256":"{report.sha256}"' in event.record
    assert '"record_count":5' in event.record
