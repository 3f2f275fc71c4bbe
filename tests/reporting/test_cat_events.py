"""FINRA CAT order events on a known day of flow.

CAT trading day 2026-11-20 (a Friday) runs from 2026-11-19 16:00 ET (21:00 UTC) to 2026-11-20
16:00 ET (21:00 UTC). The clock is set before each step, so that the audit trail, the orders
and the fills carry the times below (UTC):

| order | time | account | what |
|---|---|---|---|
| E | 11-19 20:00 | ACC-C1 | buy 5 AAPL at 98: the previous CAT day, not in this file |
| F | 11-19 22:00 | ACC-C1 | buy 7 AAPL at 97, after the close: this CAT day |
| A | 11-20 14:30 | ACC-C1 | buy 100 AAPL at 100; 14:35 amended to 150; fills (below); canceled |

Order A fills 60 @ 99.5 on XNAS at 14:40 and 40 @ 99.6 on BATS at 14:45; canceled at 15:00 with
50 left.
| B | 11-20 15:10 | ACC-P  | sell 20 AAPL at 101, filled off venue (XOFF) 20 @ 101.2 at 15:11 |
| C | 11-20 15:20 | ACC-C1 | rejected by the gate: not reported |
| D | 11-20 15:30 | ACC-P  | buy 1000 AAPL at 100, held; 15:40 denied |
| G | 11-20 15:50 | ACC-C1 | buy 5 SAP (XETR, EUR): not CAT-reportable |
| X | 11-20 15:55 | ACC-X  | buy 1 AAPL: the account has no FDID, its events are left out |
"""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.changes.services import config_change_decide, config_change_propose
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from apps.reporting.services import report_generate, report_status_set
from apps.reporting.tasks import generate_cat_events
from apps.trading.models import Account, Order
from apps.trading.services import (
    fill_bust,
    fill_correct,
    order_amend,
    order_cancel,
    order_create,
    order_fill,
    order_status_set,
)
from tests.reporting.helpers import content
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)
NEXT = date(2026, 11, 23)  # Monday
REPORTS = "/api/v1/reports/"


@pytest.fixture
def clock(monkeypatch):
    """Set the platform's clock: `clock(datetime)`."""
    now = {"at": datetime(2026, 11, 19, 12, tzinfo=UTC)}
    monkeypatch.setattr(timezone, "now", lambda: now["at"])

    def set_to(when: datetime) -> None:
        now["at"] = when

    return set_to


@pytest.fixture(autouse=True)
def cat_settings(settings):
    settings.CAT_REPORTER_IMID = "FIRMX"
    settings.CAT_SUBMITTER_ID = "140123"
    settings.CAT_REPORTER_CRD = "99887"


def utc(day: int, hhmm: str, month: int = 11) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def flow(clock, officer, make_user):
    trader = make_user(Role.TRADER)
    c1 = AccountFactory(
        code="ACC-C1",
        trading_capacity="AOTC",
        cat_fdid="FDIDC1",
        cat_account_holder_type="I",
        large_trader_id="12345678-0001",
    )
    prop = AccountFactory(code="ACC-P", cat_fdid="PROP1", cat_account_holder_type="P")
    nofdid = AccountFactory(code="ACC-X")
    aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005", mic="XNAS", currency="USD")
    sap = InstrumentFactory(symbol="SAP", isin="DE0007164600", mic="XETR", currency="EUR")
    ReferencePriceFactory(instrument=aapl, price=Decimal("100"))
    ReferencePriceFactory(instrument=sap, price=Decimal("200"))
    n = iter(range(1, 100))

    def order(when, account, instrument, side, quantity, price, status="accepted"):
        clock(when)
        return order_create(
            account=account,
            instrument=instrument,
            client_order_id=f"cat-{next(n)}",
            side=side,
            order_type="limit",
            quantity=quantity,
            limit_price=price,
            time_in_force="gtc",
            status=status,
            reference_price=Decimal(price),
        )

    def fill(when, o, exec_id, quantity, price, venue):
        clock(when)
        return order_fill(
            order=o,
            exec_id=exec_id,
            quantity=quantity,
            price=price,
            venue=venue,
            executed_at=when,
            liquidity="removed",
            counterparty_lei="5493001KJTIIGC8Y1R12" if venue == "XOFF" else "",
        )[0]

    e = order(utc(19, "20:00"), c1, aapl, "buy", "5", "98")
    f = order(utc(19, "22:00"), c1, aapl, "buy", "7", "97")
    a = order(utc(20, "14:30"), c1, aapl, "buy", "100", "100")
    clock(utc(20, "14:35"))
    order_amend(order=a, quantity="150")
    fa1 = fill(utc(20, "14:40"), a, "EXA-1", "60", "99.5", "XNAS")
    fa2 = fill(utc(20, "14:45"), a, "EXA-2", "40", "99.6", "BATS")
    clock(utc(20, "15:00"))
    order_cancel(order=a, reason="client", actor=trader)
    b = order(utc(20, "15:10"), prop, aapl, "sell", "20", "101")
    fb = fill(utc(20, "15:11"), b, "EXB-1", "20", "101.2", "XOFF")
    c = order(utc(20, "15:20"), c1, aapl, "buy", "9", "100", status="rejected")
    d = order(utc(20, "15:30"), prop, aapl, "buy", "1000", "100", status="pending_approval")
    clock(utc(20, "15:40"))
    order_status_set(order=d, status="rejected", reason="denied")
    g = order(utc(20, "15:50"), c1, sap, "buy", "5", "200")
    x = order(utc(20, "15:55"), nofdid, aapl, "buy", "1", "100")
    clock(utc(23, "11:00"))  # Monday 6 a.m. ET
    return {
        "orders": {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g, "X": x},
        "fills": {"A1": fa1, "A2": fa2, "B": fb},
        "accounts": {"C1": c1, "P": prop, "X": nofdid},
    }


def build(officer, day=DAY):
    return report_generate(
        report_type="cat_events", period_start=day, period_end=day, fmt="json", actor=officer
    )


def records(report, officer) -> list[dict]:
    return [json.loads(line) for line in content(report, officer).decode().splitlines()]


def test_a_known_day_counts_and_fields(flow, officer):
    report = build(officer)
    rows = records(report, officer)
    a, b, d, f = (flow["orders"][k] for k in "ABDF")
    fa1, fb = flow["fills"]["A1"], flow["fills"]["B"]

    assert report.record_count == len(rows) == 10
    by_type = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    assert {k: len(v) for k, v in by_type.items()} == {
        "MENO": 4,
        "MEOM": 1,
        "MEOC": 2,
        "MEOR": 2,
        "MEOT": 1,
    }
    assert {r["orderID"] for r in by_type["MENO"]} == {str(o.pk) for o in (a, b, d, f)}
    assert all(r["CATReporterIMID"] == "FIRMX" and r["actionType"] == "NEW" for r in rows)
    assert len({r["firmROEID"] for r in rows}) == 10

    meno = next(r for r in by_type["MENO"] if r["orderID"] == str(a.pk))
    assert meno == {
        "actionType": "NEW",
        "firmROEID": f"O{a.pk}-N",
        "type": "MENO",
        "CATReporterIMID": "FIRMX",
        "orderKeyDate": "20261120 093000.000000",  # 14:30 UTC is 9:30 EST
        "orderID": str(a.pk),
        "symbol": "AAPL",
        "eventTimestamp": "20261120 093000.000000",
        "manualFlag": False,
        "deptType": "A",
        "side": "B",
        "quantity": 100,  # as first received; the amendment follows
        "orderType": "LMT",
        "timeInForce": {"GTC": 20261120},
        "tradingSession": "REG",
        "handlingInstructions": {},
        "price": 100,
        "custDspIntrFlag": False,
        "firmDesignatedID": "FDIDC1",
        "accountHolderType": "I",
        "representativeInd": "N",
    }
    # F came after the close on the 19th: it belongs to this CAT day, keyed by its own time.
    meno_f = next(r for r in by_type["MENO"] if r["orderID"] == str(f.pk))
    assert meno_f["orderKeyDate"] == "20261119 170000.000000"
    meom = by_type["MEOM"][0]
    assert (meom["orderID"], meom["quantity"], meom["leavesQty"]) == (str(a.pk), 150, 150)
    assert meom["eventTimestamp"] == "20261120 093500.000000"
    cancels = {r["orderID"]: r for r in by_type["MEOC"]}
    assert cancels[str(a.pk)]["cancelQty"] == 50 and cancels[str(a.pk)]["initiator"] == "C"
    assert cancels[str(d.pk)]["cancelQty"] == 1000 and cancels[str(d.pk)]["initiator"] == "F"
    route = next(r for r in by_type["MEOR"] if r["routedOrderID"] == "EXA-1")
    assert route["firmROEID"] == f"F{fa1.pk}-R"
    assert (route["destination"], route["quantity"], route["price"]) == ("XNAS", 60, 100)
    assert route["eventTimestamp"] == "20261120 094000.000000"
    trade = by_type["MEOT"][0]
    assert trade["tradeID"] == f"F{fb.pk}" and trade["capacity"] == "P"
    assert (trade["quantity"], str(Decimal(str(trade["price"])))) == (20, "101.2")
    assert trade["sellDetails"]["firmDesignatedID"] == "PROP1"
    assert trade["sellDetails"]["orderID"] == str(b.pk)
    # Numbers are written digit for digit.
    assert b'"price":101.2' in content(report, officer)

    totals = report.summary["totals"]
    assert totals["complete"] is False
    assert totals["accounts missing CAT identifiers"] == "ACC-X"
    assert totals["gate rejections not reported"] == 1
    assert totals["records"] == 10
    assert totals["window start"] == "20261119 160000.000000"
    assert report.filename.startswith("140123_99887_20261123_20261120_OrderEvents_000001")
    missing = next(t for t in report.summary["tables"] if t["title"].startswith("Accounts miss"))
    assert missing["rows"] == [["ACC-X", "cat_fdid, cat_account_holder_type", 1]]
    reported = next(t for t in report.summary["tables"] if t["title"].startswith("Accounts rep"))
    assert reported["rows"] == [
        ["ACC-C1", "FDIDC1", "I", "12345678-0001", 6],
        ["ACC-P", "PROP1", "P", "", 4],
    ]


def test_a_cancel_by_a_firm_control_is_initiated_by_the_firm(flow, officer, clock):
    clock(utc(20, "15:56"))
    order_cancel(order=flow["orders"]["F"], reason="kill switch", count_message=False)
    clock(utc(23, "11:00"))
    rows = records(build(officer), officer)
    cancel = next(
        r for r in rows if r["type"] == "MEOC" and r["orderID"] == str(flow["orders"]["F"].pk)
    )
    assert (cancel["initiator"], cancel["cancelQty"]) == ("F", 7)


def test_the_file_parses_back_to_the_order_life_cycles(flow, officer):
    rows = records(build(officer), officer)
    life: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["eventTimestamp"]):
        order = life.setdefault(
            row.get("orderID") or (row.get("buyDetails") or row.get("sellDetails"))["orderID"],
            {"quantity": None, "filled": Decimal(0), "canceled": False},
        )
        if row["type"] in ("MENO", "MEOM"):
            order["quantity"] = Decimal(str(row["quantity"]))
        elif row["type"] in ("MEOR", "MEOT"):
            order["filled"] += Decimal(str(row["quantity"]))
        elif row["type"] == "MEOC":
            order["canceled"] = True
    stored = Order.objects.filter(pk__in=[int(k) for k in life])
    assert len(stored) == len(life) == 4
    for order in stored:
        got = life[str(order.pk)]
        assert got["quantity"] == order.quantity
        assert got["filled"] == order.filled_quantity
        assert got["canceled"] == (order.status in ("canceled", "rejected"))


def test_a_corrected_and_a_busted_fill_are_repaired_in_the_next_file(flow, officer, clock):
    first = build(officer)
    clock(utc(23, "15:00"))  # Monday 10 a.m. ET: CAT day 11-23
    fa1, fb = flow["fills"]["A1"], flow["fills"]["B"]
    fill_correct(fill=fa1, quantity="55", price="99.5", reason="venue correction", actor=officer)
    fill_bust(fill=fb, reason="trade broken", actor=officer)
    clock(utc(24, "11:30"))
    repair = build(officer, NEXT)
    rows = records(repair, officer)
    assert [(r["actionType"], r["type"], r["firmROEID"]) for r in rows] == [
        ("COR", "MEOR", f"F{fa1.pk}-R"),
        ("DEL", "MEOT", f"F{fb.pk}-T"),
    ]
    assert rows[0]["quantity"] == 55
    assert repair.summary["totals"]["repair records"] == 2
    # The first day's file is not built again: one file per CAT day.
    assert RegulatoryReport.objects.filter(report_type="cat_events", period_end=DAY).count() == 1
    first.refresh_from_db()
    assert first.stale_since is None


def test_a_fill_of_an_unbuilt_day_goes_into_its_own_file_as_it_stands(flow, officer, clock):
    clock(utc(21, "15:00"))
    fill_correct(fill=flow["fills"]["A1"], quantity="50", price="99.5", reason="fix", actor=officer)
    clock(utc(23, "11:00"))
    rows = records(build(officer), officer)
    route = next(r for r in rows if r.get("routedOrderID") == "EXA-1")
    assert (route["actionType"], route["quantity"]) == ("NEW", 50)


def test_an_incomplete_file_cannot_be_submitted_and_a_complete_one_can(flow, officer):
    report = build(officer)
    with pytest.raises(Conflict) as refused:
        report_status_set(report=report, actor=officer, status="submitted", note="CAT-1")
    assert refused.value.code == "report_incomplete"
    Account.objects.filter(code="ACC-X").update(cat_fdid="XFDID", cat_account_holder_type="A")
    again = build(officer)
    assert again.summary["totals"]["complete"] is True
    assert again.record_count == 11  # X's new order is now in
    assert report_status_set(report=again, actor=officer, status="submitted", note="CAT-2")


def test_a_filed_cat_day_takes_no_second_file(flow, officer):
    """Once a day is filed, a change of it is a repair record in a later file: neither a new
    build of the day nor the submission of another version of it (the same firmROEIDs twice)."""
    Account.objects.filter(code="ACC-X").update(cat_fdid="XFDID", cat_account_holder_type="A")
    first, second = build(officer), build(officer)  # two drafts: nothing sent yet
    report_status_set(report=first, actor=officer, status="submitted", note="CAT-1")
    with pytest.raises(Conflict) as refused:
        report_status_set(report=second, actor=officer, status="submitted", note="CAT-2")
    assert refused.value.code == "cat_day_filed"
    count = RegulatoryReport.objects.count()
    with pytest.raises(Conflict) as refused:
        build(officer)
    assert refused.value.code == "cat_day_filed"
    assert RegulatoryReport.objects.count() == count


def test_bad_requests_store_nothing(flow, officer, clock):
    with pytest.raises(ValidationFailed):
        report_generate(
            report_type="cat_events",
            period_start=date(2026, 11, 19),
            period_end=DAY,
            fmt="json",
            actor=officer,
        )
    with pytest.raises(ValidationFailed):
        build(officer, date(2026, 11, 21))  # a Saturday: its events belong to Monday
    clock(utc(20, "20:59"))  # 3:59 p.m. ET: the day has not ended
    with pytest.raises(ValidationFailed):
        build(officer)
    clock(utc(23, "11:00"))
    with pytest.raises(ValidationFailed):
        report_generate(
            report_type="cat_events", period_start=DAY, period_end=DAY, fmt="csv", actor=officer
        )
    assert not RegulatoryReport.objects.exists()


def test_a_day_without_events_has_no_file(flow, officer):
    with pytest.raises(Conflict) as refused:
        build(officer, date(2026, 11, 18))
    assert refused.value.code == "cat_nothing_to_report"
    assert not RegulatoryReport.objects.exists()


def test_a_day_of_only_unidentified_accounts_is_refused_naming_them(flow, officer):
    Account.objects.filter(code__in=["ACC-C1", "ACC-P"]).update(cat_fdid="")
    with pytest.raises(Conflict) as refused:
        build(officer)
    assert refused.value.code == "cat_identifiers_missing"
    assert refused.value.details == {"accounts": ["ACC-C1", "ACC-P", "ACC-X"]}
    assert not RegulatoryReport.objects.exists()


def test_without_an_imid_there_is_no_file(flow, officer, settings):
    settings.CAT_REPORTER_IMID = ""
    with pytest.raises(Conflict) as refused:
        build(officer)
    assert refused.value.code == "cat_reporter_imid_missing"
    assert not RegulatoryReport.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_a_role_below_compliance_cannot_generate(flow, api_client_for, role):
    response = api_client_for(role).post(
        REPORTS,
        {
            "report_type": "cat_events",
            "period_start": str(DAY),
            "period_end": str(DAY),
            "format": "json",
        },
        format="json",
    )
    assert response.status_code == 403
    assert not RegulatoryReport.objects.exists()


def test_compliance_generates_through_the_api(flow, api_client_for):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        REPORTS,
        {
            "report_type": "cat_events",
            "period_start": str(DAY),
            "period_end": str(DAY),
            "format": "json",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    report = response.json()
    assert report["record_count"] == 10
    officer = api_client_for(Role.COMPLIANCE_OFFICER)
    download = officer.get(report["download_url"])
    body = b"".join(download.streaming_content)
    assert download["X-Content-SHA256"] == hashlib.sha256(body).hexdigest() == report["sha256"]
    assert len(body.splitlines()) == 10
    assert "140123_99887_" in download["Content-Disposition"]
    # A Viewer or a Trader cannot read it (a report covers every account).
    for role in (Role.VIEWER, Role.TRADER):
        assert api_client_for(role).get(report["download_url"]).status_code == 403


def test_cat_identifiers_change_under_maker_checker(flow, make_user):
    account = flow["accounts"]["X"]
    risk = make_user(Role.RISK_MANAGER)
    with pytest.raises(PermissionDenied):
        config_change_propose(
            kind="account_cat_identifiers",
            target=account.code,
            values={"cat_fdid": "XFDID"},
            actor=risk,
        )
    maker, checker = make_user(Role.COMPLIANCE_OFFICER), make_user(Role.COMPLIANCE_OFFICER)
    with pytest.raises(ValidationFailed):
        config_change_propose(
            kind="account_cat_identifiers",
            target=account.code,
            values={"large_trader_id": "not-an-ltid"},
            actor=maker,
        )
    change = config_change_propose(
        kind="account_cat_identifiers",
        target=account.code,
        values={"cat_fdid": "XFDID", "cat_account_holder_type": "A"},
        actor=maker,
    )
    account.refresh_from_db()
    assert account.cat_fdid == ""  # not before a second person approves
    config_change_decide(change=change, approve=True, actor=checker, comment="checked")
    account.refresh_from_db()
    assert (account.cat_fdid, account.cat_account_holder_type) == ("XFDID", "A")


def test_beat_builds_each_ended_cat_day_once(flow, settings, clock):
    spec = settings.PERIODIC_TASKS["cat events"]
    assert spec["task"] == "reporting.generate_cat_events"
    assert (spec["crontab"], spec["timezone"]) == ("30 6 * * *", "America/New_York")
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="cat events")
    assert (task.crontab.hour, task.crontab.minute) == ("6", "30")
    assert str(task.crontab.timezone) == "America/New_York"

    clock(utc(23, "11:30"))
    built = generate_cat_events(now="2026-11-23T11:30:00+00:00")  # Monday 6:30 a.m. ET
    days = sorted(
        RegulatoryReport.objects.filter(pk__in=built).values_list("period_end", flat=True)
    )
    # 11-18 had no reportable event: CAT takes no empty file, so none is built.
    assert days == [date(2026, 11, 19), DAY]
    assert all(r.schedule == "cat events" for r in RegulatoryReport.objects.all())
    assert RegulatoryReport.objects.get(period_end=DAY).record_count == 10
    assert generate_cat_events(now="2026-11-23T11:45:00+00:00") == []


def test_an_amendment_the_gate_refused_is_no_modification(flow, officer, clock):
    """The gate records a refused amendment as ORDER_AMENDED with "amended": false: the order
    never changed, so CAT hears of no modification (the summary counts it)."""
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record

    a = flow["orders"]["A"]
    applied = AuditEvent.objects.get(event_type="ORDER_AMENDED", object_id=str(a.pk))
    payload = json.loads(applied.record)["payload"]
    clock(utc(20, "14:50"))
    audit_record(
        event_type="ORDER_AMENDED",
        actor=None,
        object_type=applied.object_type,
        object_id=a.pk,
        payload={**payload, "amended": False},
    )
    clock(utc(23, "11:00"))
    report = build(officer)
    rows = records(report, officer)
    assert [r["type"] for r in rows].count("MEOM") == 1
    assert report.summary["totals"]["amendments the gate refused, not reported"] == 1


def test_a_cat_day_outside_the_calendar_is_a_400(api_client_for, flow):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    for day in ("1990-01-02", "0001-01-01"):
        response = client.post(
            "/api/v1/reports/",
            {"report_type": "cat_events", "period_start": day, "period_end": day, "format": "json"},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"]
    assert not RegulatoryReport.objects.exists()
