"""The life of a MiFIR transaction report: stable references, re-runs after filing that send only
the difference (Cxl and New), filing status, the regulator's feedback, the reporting calendar and
the T+1 deadlines."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from lxml import etree

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, ValidationFailed
from apps.rbac.roles import Role
from apps.reporting.builders.mifir import NS_TX
from apps.reporting.lifecycle import (
    deadline,
    deadlines,
    fill_key,
    reporting_days,
    transaction_reference,
)
from apps.reporting.models import (
    RegulatoryReport,
    ReportedTransaction,
    ReportFeedback,
)
from apps.reporting.schemas import mifir_errors, schemas_present
from apps.reporting.services import report_feedback_import, report_generate, report_status_set
from apps.reporting.tasks import generate_daily
from apps.trading.services import fill_bust, fill_correct
from tests.permissions import assert_api_role_required
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows
from tests.trading.factories import InstrumentFactory, ReferencePriceFactory

pytestmark = pytest.mark.django_db
SCHEMAS = settings.MIFIR_SCHEMA_DIR
NS = {"t": NS_TX}
REPORTS = "/api/v1/reports/"


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def build(officer, fmt="xml", day=DAY):
    return report_generate(
        report_type="mifir_transactions", period_start=day, period_end=day, fmt=fmt, actor=officer
    )


def actions(report, officer) -> list[tuple[str, str]]:
    """(New or Cxl, TxId) of every transaction in the file, in order."""
    root = etree.fromstring(content(report, officer))
    out = []
    for tx in root.iterfind(".//t:FinInstrmRptgTxRpt/t:Tx", NS):
        for kind in ("New", "Cxl"):
            found = tx.find(f"t:{kind}", NS)
            if found is not None:
                out.append((kind, found.findtext("t:TxId", namespaces=NS)))
    return out


def submitted(officer, fmt="xml"):
    report = build(officer, fmt)
    return report_status_set(report=report, actor=officer, status="submitted", note="FCA-1")


def ref(fill, version=1) -> str:
    return transaction_reference(fill.exec_id, version)


def schema_valid(report, officer, tmp_path) -> bool:
    if not schemas_present(SCHEMAS):
        return True
    path = tmp_path / f"r{report.pk}.xml"
    path.write_bytes(content(report, officer))
    return mifir_errors(str(path), SCHEMAS) == []


# --- references ------------------------------------------------------------------------------


def test_a_reference_is_the_fills_stable_key_and_a_version():
    assert fill_key("EX-1") == fill_key("EX-1") != fill_key("EX-2")
    reference = transaction_reference("exec/with spaces-and.lower", 3)
    assert reference.endswith("V3") and len(reference) <= 52
    assert reference.isalnum() and reference == reference.upper()


def test_the_first_build_reports_every_fill_new_and_records_its_lines(desk, officer):
    report = build(officer)
    fills = desk["fills"][1:]
    assert actions(report, officer) == [("New", ref(f)) for f in fills]
    lines = ReportedTransaction.objects.filter(report=report).order_by("id")
    assert [(t.fill_id, t.action, t.version, t.trade_date) for t in lines] == [
        (f.pk, "NEWT", 1, DAY) for f in fills
    ]
    assert all(len(t.content_hash) == 64 for t in lines)


def test_a_draft_built_again_is_still_all_new(desk, officer):
    build(officer)
    fill_correct(fill=desk["fills"][3], quantity="9", price="100", reason="venue", actor=officer)
    second = build(officer)
    assert [a for a, _ in actions(second, officer)] == ["New"] * 5


# --- re-runs after filing ----------------------------------------------------------------------


def test_an_unchanged_rerun_after_submission_sends_nothing(desk, officer):
    first = submitted(officer)
    with pytest.raises(Conflict) as nothing:
        build(officer)
    assert nothing.value.code == "nothing_to_send"
    assert nothing.value.details["unchanged"] == 5
    assert list(RegulatoryReport.objects.values_list("pk", flat=True)) == [first.pk]
    assert ReportedTransaction.objects.count() == 5


def test_a_change_undone_clears_the_rerun_mark_without_a_file(desk, officer):
    first = submitted(officer)
    fill = desk["fills"][3]
    fill_correct(fill=fill, quantity="10", price="99", reason="typo", actor=officer)
    fill_correct(fill=fill, quantity="10", price="100", reason="typo undone", actor=officer)
    assert RegulatoryReport.objects.get(pk=first.pk).needs_rerun
    with pytest.raises(Conflict):
        build(officer)
    assert not RegulatoryReport.objects.get(pk=first.pk).needs_rerun
    event = AuditEvent.objects.filter(event_type="REPORT_GENERATED").order_by("seq").last()
    assert json.loads(event.record)["payload"]["outcome"] == "nothing_to_send"


def test_a_corrected_fill_gives_exactly_one_cxl_and_one_new(desk, officer, tmp_path):
    first = submitted(officer)
    fill = desk["fills"][3]
    fill_correct(fill=fill, quantity="10", price="99.5", reason="Venue correction", actor=officer)
    assert RegulatoryReport.objects.get(pk=first.pk).needs_rerun
    second = build(officer)
    assert actions(second, officer) == [("Cxl", ref(fill, 1)), ("New", ref(fill, 2))]
    new = etree.fromstring(content(second, officer)).find(".//t:New", NS)
    assert new.findtext(".//t:Pric/t:Pric/t:MntryVal/t:Amt", namespaces=NS) == "99.5"
    assert schema_valid(second, officer, tmp_path)
    # Filed, the next run has nothing more to say; the version 2 is what is held.
    report_status_set(report=second, actor=officer, status="submitted", note="FCA-2")
    with pytest.raises(Conflict):
        build(officer)


def test_a_busted_fill_gives_one_cxl(desk, officer, tmp_path):
    submitted(officer)
    fill = desk["fills"][5]
    fill_bust(fill=fill, reason="Busted by the venue", actor=officer)
    second = build(officer)
    assert actions(second, officer) == [("Cxl", ref(fill, 1))]
    assert schema_valid(second, officer, tmp_path)


def test_the_csv_carries_the_same_actions(desk, officer):
    submitted(officer, fmt="csv")
    fill = desk["fills"][1]
    fill_correct(fill=fill, quantity="4", price="200", reason="qty", actor=officer)
    rows = csv_rows(build(officer, fmt="csv"), officer)
    assert [(r["action"], r["tx_id"]) for r in rows] == [
        ("CANC", ref(fill, 1)),
        ("NEWT", ref(fill, 2)),
    ]
    assert rows[1]["quantity"] == "4"


def test_a_late_fill_in_a_filed_day_is_new_alone(desk, officer):
    submitted(officer)
    late = book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="101",
        executed_at=at(DAY, "18:00"),
    )
    assert actions(build(officer), officer) == [("New", ref(late))]


def test_a_report_filed_after_another_was_built_is_refused(desk, officer):
    older = build(officer)
    newer = build(officer)
    report_status_set(report=newer, actor=officer, status="submitted", note="FCA-1")
    with pytest.raises(Conflict) as refused:
        report_status_set(report=older, actor=officer, status="submitted", note="FCA-2")
    assert refused.value.code == "report_outdated"
    assert RegulatoryReport.objects.get(pk=older.pk).status == "draft"


# --- filing status ---------------------------------------------------------------------------


def test_status_moves_in_order_only(desk, officer):
    report = build(officer)
    for status in ("accepted", "rejected"):
        with pytest.raises(ValidationFailed) as refused:
            report_status_set(report=report, actor=officer, status=status, note="x")
        assert refused.value.code == "invalid_transition"
    report_status_set(report=report, actor=officer, status="submitted", note="FCA-9")
    report_status_set(report=report, actor=officer, status="rejected", note="CON-023 schema")
    with pytest.raises(ValidationFailed):
        report_status_set(report=report, actor=officer, status="submitted", note="FCA-10")
    report.refresh_from_db()
    assert (report.status, report.submission_reference, report.regulator_response) == (
        "rejected",
        "FCA-9",
        "CON-023 schema",
    )
    moves = AuditEvent.objects.filter(event_type="REPORT_STATUS_CHANGED").order_by("seq")
    moves = [json.loads(e.record)["payload"] for e in moves]
    assert [(p["from"], p["to"]) for p in moves] == [
        ("draft", "submitted"),
        ("submitted", "rejected"),
    ]


def test_a_file_rejected_whole_is_not_held_so_the_next_run_sends_it_all(desk, officer):
    report = submitted(officer)
    report_status_set(report=report, actor=officer, status="rejected", note="CON-023")
    second = build(officer)
    # New again, under a new version: a reference names one submission for good.
    assert actions(second, officer) == [("New", ref(f, 2)) for f in desk["fills"][1:]]


def test_the_status_api_takes_status_and_note(api_client_for, desk, officer):
    report = build(officer)
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    url = f"{REPORTS}{report.pk}/status/"
    early = client.post(url, {"status": "accepted", "note": "x"}, format="json")
    assert early.status_code == 400 and early.json()["error"]["code"] == "invalid_transition"
    ok = client.post(url, {"status": "submitted", "note": "FCA-TR-1"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "submitted"
    assert ok.json()["submission_reference"] == "FCA-TR-1"


def test_the_status_api_needs_compliance_officer(api_client_for, desk, officer):
    report = build(officer)
    assert_api_role_required(
        api_client_for,
        "post",
        f"{REPORTS}{report.pk}/status/",
        Role.COMPLIANCE_OFFICER,
        {"status": "submitted", "note": "FCA-1"},
    )


# --- the regulator's feedback ----------------------------------------------------------------

HEADER = "transaction_reference,status,error_code,error_message\n"


def feedback_for(desk, rejected_index=3) -> bytes:
    lines = [HEADER]
    for n, fill in enumerate(desk["fills"][1:], start=1):
        if n == rejected_index:
            lines.append(f"{ref(fill)},RJCT,CON-412,Price outside the daily range\n")
        else:
            lines.append(f"{ref(fill)},ACPT,,\n")
    return "".join(lines).encode()


def test_feedback_marks_lines_and_rejected_transactions_come_back(desk, officer):
    report = submitted(officer)
    feedback = report_feedback_import(
        report=report, actor=officer, raw=feedback_for(desk), filename="fb.csv"
    )
    assert (feedback.accepted, feedback.rejected) == (4, 1)
    report.refresh_from_db()
    assert report.status == "accepted"
    rejected = ReportedTransaction.objects.get(report=report, feedback_status="RJCT")
    assert rejected.fill_id == desk["fills"][3].pk
    assert (rejected.feedback_code, rejected.feedback_message) == (
        "CON-412",
        "Price outside the daily range",
    )
    event = AuditEvent.objects.get(event_type="REPORT_FEEDBACK_IMPORTED")
    payload = json.loads(event.record)["payload"]
    assert payload["rejected"] == 1
    assert payload["rejections"][0]["reference"] == ref(desk["fills"][3])
    # The next run reports the rejected transaction again, and only it.
    assert actions(build(officer), officer) == [("New", ref(desk["fills"][3], 2))]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00binary",
        b"<?xml version='1.0'?><Document/>",
        b"transaction_reference,status\nX,ACPT\n",
        HEADER.encode(),
        (HEADER + "FAAAAV1,MAYBE,,\n").encode(),
        (HEADER + "FAAAAV1,RJCT,,no code\n").encode(),
        (HEADER + "NOT-IN-THIS-REPORT,ACPT,,\n").encode(),
    ],
)
def test_not_a_feedback_file_is_a_400_and_stores_nothing(desk, officer, raw):
    report = submitted(officer)
    with pytest.raises(ValidationFailed) as refused:
        report_feedback_import(report=report, actor=officer, raw=raw, filename="x.csv")
    assert refused.value.code == "invalid_feedback_file"
    assert not ReportFeedback.objects.exists()
    assert not ReportedTransaction.objects.exclude(feedback_status="").exists()
    assert RegulatoryReport.objects.get(pk=report.pk).status == "submitted"
    assert not AuditEvent.objects.filter(event_type="REPORT_FEEDBACK_IMPORTED").exists()


def test_feedback_on_a_draft_is_refused(desk, officer):
    report = build(officer)
    with pytest.raises(ValidationFailed) as refused:
        report_feedback_import(report=report, actor=officer, raw=feedback_for(desk))
    assert refused.value.code == "invalid_transition"


def test_feedback_over_the_api_and_the_transactions_list(api_client_for, desk, officer):
    report = submitted(officer)
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    url = f"{REPORTS}{report.pk}/feedback/"
    bad = client.post(url, {"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4")}, format="multipart")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_feedback_file"
    good = client.post(
        url, {"file": SimpleUploadedFile("fb.csv", feedback_for(desk))}, format="multipart"
    )
    assert good.status_code == 201, good.json()
    assert good.json()["rejected"] == 1 and good.json()["report_status"] == "accepted"
    reader = api_client_for(Role.RISK_MANAGER)
    listed = reader.get(f"{REPORTS}{report.pk}/transactions/?feedback_status=RJCT").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["reference"] for r in rows] == [ref(desk["fills"][3])]
    assert rows[0]["feedback_code"] == "CON-412"


def test_feedback_api_needs_compliance_officer(api_client_for, desk, officer):
    report = submitted(officer)
    url = f"{REPORTS}{report.pk}/feedback/"
    for role in (None, Role.VIEWER, Role.TRADER, Role.RISK_MANAGER):
        response = api_client_for(role).post(
            url, {"file": SimpleUploadedFile("fb.csv", feedback_for(desk))}, format="multipart"
        )
        assert response.status_code == 403, role
    assert not ReportFeedback.objects.exists()


def test_transactions_list_needs_a_risk_manager(api_client_for, desk, officer):
    report = build(officer)
    assert_api_role_required(
        api_client_for, "get", f"{REPORTS}{report.pk}/transactions/", Role.RISK_MANAGER
    )


# --- the page ----------------------------------------------------------------------------------


def test_the_report_page_shows_lines_and_takes_feedback(client, make_user, desk, officer):
    report = submitted(officer)
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get(f"/reports/{report.pk}/")
    assert page.status_code == 200 and ref(desk["fills"][1]).encode() in page.content
    assert b'id="feedback-form"' not in page.content
    refused = client.post(
        f"/reports/{report.pk}/",
        {"action": "feedback", "file": SimpleUploadedFile("fb.csv", feedback_for(desk))},
    )
    assert refused.status_code == 403
    client.force_login(officer)
    assert b'id="feedback-form"' in client.get(f"/reports/{report.pk}/").content
    bad = client.post(
        f"/reports/{report.pk}/",
        {"action": "feedback", "file": SimpleUploadedFile("fb.csv", b"nonsense")},
    )
    assert bad.status_code == 400 and b"Not a feedback file" in bad.content
    assert not ReportFeedback.objects.exists()
    done = client.post(
        f"/reports/{report.pk}/",
        {"action": "feedback", "file": SimpleUploadedFile("fb.csv", feedback_for(desk))},
        follow=True,
    )
    assert b"1 rejected" in done.content and b"CON-412" in done.content
    assert b'id="rejected"' in done.content


def test_the_report_page_records_filing_steps(client, desk, officer):
    report = build(officer)
    client.force_login(officer)
    early = client.post(f"/reports/{report.pk}/", {"action": "status", "status": "accepted"})
    assert early.status_code == 400
    client.post(f"/reports/{report.pk}/", {"status": "submitted", "note": "FCA-77"})
    report.refresh_from_db()
    assert (report.status, report.submission_reference) == ("submitted", "FCA-77")


def test_the_report_page_needs_a_risk_manager(client, make_user, desk, officer):
    report = build(officer)
    from tests.permissions import assert_page_role_required

    assert_page_role_required(client, make_user, f"/reports/{report.pk}/", Role.RISK_MANAGER)


# --- the reporting calendar --------------------------------------------------------------------

MLK_DAY = date(2026, 1, 19)  # NYSE closed; XETR and XLON open


def xetr_day(officer):
    sap = InstrumentFactory(symbol="SAP", isin="DE0007164600", mic="XETR", currency="EUR")
    ReferencePriceFactory(instrument=sap, price=Decimal("200"), as_of=at(MLK_DAY, "08:00"))
    from tests.trading.factories import AccountFactory

    account = AccountFactory(code="ACC-EU")
    return [
        book_fill(
            account=account,
            instrument=sap,
            side="buy",
            quantity=str(n + 1),
            price="200",
            venue="XETR",
            executed_at=at(MLK_DAY, f"1{n}:00"),
        )
        for n in range(2)
    ]


def test_us_holiday_xetr_fills_are_reported_by_the_schedule(db, officer):
    fills = xetr_day(officer)
    ids = generate_daily(reports=[["mifir_transactions", "xml"]], today="2026-01-20")
    report = RegulatoryReport.objects.get(pk__in=ids, period_start=MLK_DAY)
    assert report.period_end == MLK_DAY and report.schedule
    assert actions(report, officer) == [("New", ref(f)) for f in fills]
    # Twice is once.
    assert generate_daily(reports=[["mifir_transactions", "xml"]], today="2026-01-20") == []


def test_the_nyse_calendar_alone_would_have_skipped_it(db):
    from apps.core.calendars import is_business_day

    assert not is_business_day("XNYS", MLK_DAY)
    assert MLK_DAY in reporting_days(MLK_DAY, MLK_DAY)


def test_every_day_counts_when_an_instrument_trades_around_the_clock(db, settings):
    saturday, sunday = date(2026, 11, 21), date(2026, 11, 22)
    InstrumentFactory(symbol="EQ", mic="XNYS")
    assert reporting_days(saturday, sunday) == []
    InstrumentFactory(symbol="BTC-USD", mic="XOFF", calendar="24/7", asset_class="crypto")
    assert reporting_days(saturday, sunday) == [saturday, sunday]


def test_a_day_with_a_fill_counts_even_when_no_calendar_is_open(desk):
    # A fill booked on a Saturday (no calendar of the desk trades then) still needs its report.
    saturday = date(2026, 11, 21)
    assert reporting_days(saturday, saturday) == []
    book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="100",
        executed_at=at(saturday, "10:00"),
    )
    assert reporting_days(saturday, saturday) == [saturday]


def test_the_deadline_is_the_firms_next_business_day(settings):
    settings.FIRM_REPORTING_CALENDAR = "XLON"
    assert deadline(date(2026, 11, 20)) == date(2026, 11, 23)  # Friday -> Monday
    assert deadline(date(2026, 11, 21)) == date(2026, 11, 23)  # a Saturday's crypto
    assert deadline(date(2026, 12, 24)) == date(2026, 12, 29)  # Christmas, Boxing Day


def test_deadlines_warn_of_unreported_and_changed_days(desk, officer):
    today = date(2026, 11, 24)  # Tuesday: Friday's deadline (Monday) has passed
    days = {d.day: d for d in deadlines(today=today)}
    assert days[DAY].state == "missing" and "overdue" in days[DAY].warning
    # Monday had no reportable transaction: MiFIR has no nil return, nothing is owed.
    assert days[date(2026, 11, 23)].state == "nothing" and days[date(2026, 11, 23)].warning == ""
    report = submitted(officer)
    days = {d.day: d for d in deadlines(today=today)}
    assert days[DAY].state == "filed" and days[DAY].report.pk == report.pk
    assert days[DAY].warning == ""
    fill_correct(fill=desk["fills"][2], quantity="8", price="211", reason="px", actor=officer)
    days = {d.day: d for d in deadlines(today=today)}
    assert "changed this day" in days[DAY].warning


def test_the_reports_page_shows_the_deadlines(client, make_user, desk):
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/reports/")
    assert page.status_code == 200 and b'id="mifir-deadlines"' in page.content


def test_a_report_built_before_feedback_was_imported_is_out_of_date(desk, officer):
    first = submitted(officer)
    report_status_set(report=first, actor=officer, status="accepted", note="ok")
    fill_correct(fill=desk["fills"][1], quantity="4", price="200", reason="qty", actor=officer)
    pending = build(officer)
    report_feedback_import(report=first, actor=officer, raw=feedback_for(desk))
    with pytest.raises(Conflict) as refused:
        report_status_set(report=pending, actor=officer, status="submitted", note="FCA-3")
    assert refused.value.code == "report_outdated"
    # Built again, it carries the correction and the rejected transaction.
    again = build(officer)
    assert actions(again, officer) == [
        ("Cxl", ref(desk["fills"][1], 1)),
        ("New", ref(desk["fills"][1], 2)),
        ("New", ref(desk["fills"][3], 2)),
    ]


def test_the_schedule_rebuilds_a_filed_day_a_correction_changed(desk, officer):
    ids = generate_daily(reports=[["mifir_transactions", "xml"]], today="2026-11-21")
    first = RegulatoryReport.objects.get(pk__in=ids, period_start=DAY)
    report_status_set(report=first, actor=officer, status="submitted", note="FCA-1")
    fill = desk["fills"][4]
    fill_correct(fill=fill, quantity="4", price="111", reason="venue", actor=officer)
    rebuilt = generate_daily(reports=[["mifir_transactions", "xml"]], today="2026-11-22")
    second = RegulatoryReport.objects.get(pk__in=rebuilt, period_start=DAY)
    assert second.version == 2 and second.status == "draft"
    assert actions(second, officer) == [("Cxl", ref(fill, 1)), ("New", ref(fill, 2))]
    assert not RegulatoryReport.objects.get(pk=first.pk).needs_rerun


def test_the_reports_page_warns_of_a_missing_day(client, make_user, desk, monkeypatch):
    from apps.reporting import views

    monkeypatch.setattr(views, "utcnow", lambda: at(date(2026, 11, 24), "09:00"))
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/reports/").content.decode()
    assert 'id="mifir-day-2026-11-20"' in page
    assert "Not submitted (overdue: T+1 deadline 2026-11-23)" in page
