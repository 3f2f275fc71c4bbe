"""Lists a desk can work: search in any case, date ranges, sortable columns, CSV and Excel
exports of exactly what is filtered (each a DATA_ACCESS event), the page's roles on the export,
and bulk assign and close of alerts."""

import csv
import io
from datetime import timedelta

import openpyxl
import pytest

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.killswitch.services import kill_switch_activate
from apps.rbac.roles import Role
from apps.surveillance.models import Alert, AlertNote
from apps.trading.models import AccountEntitlement, Order
from tests.permissions import assert_page_role_required
from tests.surveillance.factories import AlertFactory
from tests.trading.factories import AccountFactory, InstrumentFactory

PAGES = {
    "/orders/": Role.VIEWER,
    "/approvals/history/": Role.COMPLIANCE_OFFICER,
    "/surveillance/alerts/": Role.COMPLIANCE_OFFICER,
    "/reports/": Role.RISK_MANAGER,
    "/audit/": Role.COMPLIANCE_OFFICER,
    "/kill-switch/": Role.VIEWER,
}


def exports(event_list=None) -> list[dict]:
    import json

    rows = AuditEvent.objects.filter(event_type="DATA_ACCESS").order_by("seq")
    payloads = [json.loads(e.record)["payload"] | {"object_type": e.object_type} for e in rows]
    return [p for p in payloads if p.get("action") == "list_export"]


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def read_xlsx(response) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(row) for row in book.active.iter_rows(values_only=True)]


@pytest.mark.parametrize(("url", "role"), PAGES.items())
def test_every_list_and_its_export_refuse_a_lower_role(client, make_user, url, role):
    assert_page_role_required(client, make_user, url, role)
    assert_page_role_required(client, make_user, f"{url}?export=csv", role)


@pytest.fixture
def alerts(db):
    a1 = AccountFactory(code="ACC-DESK")
    aapl = InstrumentFactory(symbol="AAPL")
    now = utcnow()
    rows = {
        "wash": AlertFactory(
            account=a1,
            instrument=aapl,
            detector="wash_trade",
            severity="critical",
            title="Wash trade in AAPL between two desks",
        ),
        "spoof": AlertFactory(
            account=a1,
            instrument=aapl,
            detector="spoofing",
            severity="warning",
            title="Spoofing pattern on the bid",
        ),
        "old": AlertFactory(
            account=a1,
            instrument=aapl,
            detector="rapid_fire",
            severity="info",
            title="=cmd|' /C calc'!A0 rapid orders",
        ),
    }
    Alert.objects.filter(pk=rows["old"].pk).update(created_at=now - timedelta(days=10))
    return rows


@pytest.fixture
def officer_client(client, make_user):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    return client


def listed(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<tr id="alert-(\d+)"', html)]


def test_search_is_case_insensitive_over_several_columns(officer_client, alerts):
    page = officer_client.get("/surveillance/alerts/", {"q": "wash aapl"}).content.decode()
    assert listed(page) == [alerts["wash"].pk]
    page = officer_client.get("/surveillance/alerts/", {"q": "acc-desk"}).content.decode()
    assert set(listed(page)) == {a.pk for a in alerts.values()}
    # The account filter is case-insensitive too.
    page = officer_client.get("/surveillance/alerts/", {"account": "acc-desk"}).content.decode()
    assert len(listed(page)) == 3


def test_date_range_includes_both_days(officer_client, alerts):
    today = utcnow().date()
    page = officer_client.get(
        "/surveillance/alerts/", {"date_from": today.isoformat(), "date_to": today.isoformat()}
    ).content.decode()
    assert set(listed(page)) == {alerts["wash"].pk, alerts["spoof"].pk}
    old = (today - timedelta(days=10)).isoformat()
    page = officer_client.get("/surveillance/alerts/", {"date_to": old}).content.decode()
    assert listed(page) == [alerts["old"].pk]


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-13-01"},
        {"date_from": "2026-06-02", "date_to": "2026-06-01"},
        {"sort": "password"},
        {"export": "pdf"},
        {"q": "x" * 201},
        {"q": "a\x00b"},
    ],
)
def test_bad_list_input_is_a_400_and_exports_nothing(officer_client, alerts, query):
    response = officer_client.get(
        "/surveillance/alerts/", {**query, "export": query.get("export", "csv")}
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert 'id="list-problems"' in response.content.decode()
    assert exports() == []


def test_columns_sort_both_ways(officer_client, alerts):
    up = listed(officer_client.get("/surveillance/alerts/", {"sort": "raised"}).content.decode())
    assert up[0] == alerts["old"].pk
    down = officer_client.get("/surveillance/alerts/", {"sort": "-raised"}).content.decode()
    assert listed(down)[-1] == alerts["old"].pk
    assert 'href="?sort=raised"' in down  # the current column's head reverses it
    by_severity = officer_client.get("/surveillance/alerts/", {"sort": "severity"})
    assert listed(by_severity.content.decode())[0] == alerts["wash"].pk  # critical < info


def test_csv_and_excel_hold_exactly_the_filtered_rows(officer_client, alerts):
    query = {"q": "AAPL", "severity": ["critical", "info"], "sort": "raised"}
    shown = listed(officer_client.get("/surveillance/alerts/", query).content.decode())
    assert shown == [alerts["old"].pk, alerts["wash"].pk]

    response = officer_client.get("/surveillance/alerts/", {**query, "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="surveillance-alerts-' in response["Content-Disposition"]
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    ids = [int(r[header.index("Id")]) for r in body]
    assert ids == shown
    # A cell a spreadsheet would run is kept as text.
    titles = [r[header.index("Title")] for r in body]
    assert titles[0].startswith("'=cmd")

    response = officer_client.get("/surveillance/alerts/", {**query, "export": "xlsx"})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    sheet = read_xlsx(response)
    assert [int(r[sheet[0].index("Id")]) for r in sheet[1:]] == shown

    events = exports()
    assert [e["format"] for e in events] == ["csv", "xlsx"]
    assert events[0]["count"] == 2 and events[0]["list"] == "surveillance-alerts"
    assert events[0]["object_type"] == "surveillance.alert"
    assert events[0]["filters"]["q"] == "AAPL"


def test_an_export_holds_only_what_the_page_shows_the_user(client, make_user, db):
    mine, other = AccountFactory(code="ACC-MINE"), AccountFactory(code="ACC-OTHER")
    instrument = InstrumentFactory(symbol="MSFT")
    for account, cid in ((mine, "mine-1"), (other, "other-1")):
        Order.objects.create(
            account=account,
            instrument=instrument,
            client_order_id=cid,
            side="buy",
            order_type="limit",
            quantity="5",
            limit_price="10",
            time_in_force="day",
            status="accepted",
        )
    viewer = make_user(Role.VIEWER)
    AccountEntitlement.objects.filter(user=viewer).delete()
    AccountEntitlement.objects.create(user=viewer, account=mine)
    client.force_login(viewer)
    page = client.get("/orders/").content.decode()
    assert "mine-1" in page and "other-1" not in page
    rows = read_csv(client.get("/orders/", {"export": "csv"}))
    assert [r[rows[0].index("Client order id")] for r in rows[1:]] == ["mine-1"]
    assert exports()[0]["object_type"] == "trading.order"


def test_kill_switch_history_search_and_export(client, make_user, db):
    AccountFactory(code="ACC-KS")
    InstrumentFactory(symbol="TSLA")
    risk = make_user(Role.RISK_MANAGER)
    kill_switch_activate(
        scope="instrument", target="TSLA", state="halted", reason="Bad prints", actor=risk
    )
    kill_switch_activate(
        scope="account", target="ACC-KS", state="reducing", reason="Margin call", actor=risk
    )
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/kill-switch/", {"q": "MARGIN"}).content.decode()
    history = page.split('id="history"')[1]
    assert "Margin call" in history and "Bad prints" not in history
    rows = read_csv(client.get("/kill-switch/", {"q": "margin", "export": "csv"}))
    assert len(rows) == 2 and rows[1][rows[0].index("Reason")] == "Margin call"


def test_the_audit_page_is_newest_first_and_each_view_is_recorded(officer_client, alerts):
    before = AuditEvent.objects.filter(event_type="DATA_ACCESS").count()
    page = officer_client.get("/audit/").content.decode()
    assert 'id="audit-table"' in page
    seqs = [int(s) for s in __import__("re").findall(r'<tr id="event-(\d+)"', page)]
    assert seqs == sorted(seqs, reverse=True)
    assert AuditEvent.objects.filter(event_type="DATA_ACCESS").count() == before + 1
    rows = read_csv(officer_client.get("/audit/", {"export": "csv", "q": "data_access"}))
    assert rows[0][:3] == ["Seq", "Time (UTC)", "Event"]
    assert all(r[2] == "DATA_ACCESS" for r in rows[1:])


# --- bulk assign and close --------------------------------------------------------------------


def test_bulk_assign_and_close(client, make_user, alerts):
    officer = make_user(Role.COMPLIANCE_OFFICER, username="first")
    client.force_login(officer)
    ids = [str(a.pk) for a in alerts.values()]
    response = client.post(
        "/surveillance/alerts/bulk/",
        {"alert": ids, "bulk_action": "assign", "assignee": str(officer.pk), "next": "q=aapl"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?q=aapl")
    assert set(Alert.objects.values_list("assignee__username", flat=True)) == {"first"}

    response = client.post(
        "/surveillance/alerts/bulk/",
        {
            "alert": ids,
            "bulk_action": "close",
            "disposition": "false_positive",
            "comment": "Desk test orders.",
        },
        follow=True,
    )
    text = response.content.decode()
    assert "2 closed" in text and "1 critical proposed for closure" in text
    wash = Alert.objects.get(pk=alerts["wash"].pk)
    assert wash.status != "closed" and wash.closure_proposed_by == officer
    assert Alert.objects.filter(status="closed").count() == 2
    updates = AuditEvent.objects.filter(event_type="ALERT_UPDATED")
    assert updates.count() == 3 + 3  # three assigned, two closed, one proposed


@pytest.mark.parametrize(
    "form",
    [
        {"bulk_action": "close", "disposition": "maybe", "comment": "x"},
        {"bulk_action": "close", "disposition": "duplicate", "comment": "  "},
        {"bulk_action": "assign", "assignee": "999999"},
        {"bulk_action": "explode"},
        {"bulk_action": "close", "disposition": "duplicate", "comment": "x", "alert": ["abc"]},
        {"bulk_action": "close", "disposition": "duplicate", "comment": "x", "alert": []},
        {"bulk_action": "close", "disposition": "duplicate", "comment": "x", "alert": ["999999"]},
    ],
)
def test_bad_bulk_input_is_a_400_and_changes_nothing(officer_client, alerts, form):
    form = {"alert": [str(a.pk) for a in alerts.values()], **form}
    before = AuditEvent.objects.count()
    response = officer_client.post("/surveillance/alerts/bulk/", form)
    assert response.status_code == 400
    assert "Nothing changed." in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert not AlertNote.objects.exclude(action="raised").exists()
    assert not Alert.objects.filter(status="closed").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_bulk_actions_refuse_a_lower_role(client, make_user, alerts, role):
    client.force_login(make_user(role))
    response = client.post(
        "/surveillance/alerts/bulk/",
        {
            "alert": [str(a.pk) for a in alerts.values()],
            "bulk_action": "close",
            "disposition": "duplicate",
            "comment": "x",
        },
    )
    assert response.status_code == 403
    assert not Alert.objects.filter(status="closed").exists()


# The calendar's ends: a day range to the last day there is, and times whose UTC lies outside
# the calendar (they were a server error, on SQLite).
@pytest.mark.parametrize("url", PAGES)
def test_a_range_to_the_last_day_there_is_is_no_server_error(client, make_user, url):
    client.force_login(make_user(Role.ADMIN))
    response = client.get(url, {"date_from": "0001-01-01", "date_to": "9999-12-31"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/market-data/trades/", "since"),
        ("/api/v1/market-data/quotes/", "until"),
        ("/api/v1/audit/events/", "occurred_after"),
        ("/api/v1/orders/", "created_before"),
        ("/api/v1/surveillance/alerts/", "created_after"),
    ],
)
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_calendar_in_utc_is_a_400(api_client_for, url, name, value):
    response = api_client_for(Role.ADMIN).get(url, {name: value})
    assert response.status_code == 400
    assert name in response.json()["error"]["details"]
