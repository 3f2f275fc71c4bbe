"""STORs (MAR art. 16): drafted from an alert with its evidence attached, reviewed by a second
Compliance Officer, exported as PDF and schema-valid XML reports of type `stor`, filed through
the report status endpoint, the alert marked reported; all audited and never shown below
Compliance Officer."""

import json
from decimal import Decimal

import pytest
from lxml import etree

from apps.audit.models import AuditEvent
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport, ReportType, Stor
from apps.reporting.pdf import pdf_seal_verify
from apps.reporting.stor_files import stor_schema
from apps.rules.models import RegulatoryEntity
from apps.surveillance.models import Alert
from tests.permissions import assert_api_role_required, assert_page_role_required
from tests.surveillance.factories import AlertFactory

pytestmark = pytest.mark.django_db

NARRATIVE = {
    "regulatory_entity": "FCA",
    "suspicion_description": "SAP bought and sold back within the hour by one client with no "
    "change in beneficial ownership; the sale was larger than the holding.",
    "attachments": ["Order book snapshot of XETR, 10:00-11:00"],
}


def _payloads(event_type: str, **match) -> list[dict]:
    events = AuditEvent.objects.filter(event_type=event_type).order_by("seq")
    payloads = [json.loads(e.record)["payload"] for e in events]
    return [p for p in payloads if all(p.get(k) == v for k, v in match.items())]


@pytest.fixture(autouse=True)
def firm(settings):
    settings.FIRM_NAME = "Example Securities Ltd"
    settings.REPORTING_FIRM_LEI = "5493001KJTIIGC8Y1R12"


@pytest.fixture
def fca(db):
    return RegulatoryEntity.objects.create(
        code="FCA", name="Financial Conduct Authority", jurisdiction="UK", nca_country="GB"
    )


@pytest.fixture
def alert(desk):
    fills = desk["fills"][1:3]  # SAP bought and sold by ACC-T2
    return AlertFactory(
        detector="wash_trade",
        severity="critical",
        account=desk["t2"],
        instrument=desk["sap"],
        evidence={
            "orders": [f.order_id for f in fills],
            "fills": [f.pk for f in fills],
            "executions": [],
            "details": {},
        },
    )


@pytest.fixture
def officers(api_client_for):
    return api_client_for(Role.COMPLIANCE_OFFICER), api_client_for(Role.COMPLIANCE_OFFICER)


def _draft(client, alert, **extra):
    response = client.post(
        "/api/v1/stors/", {"alert": alert.pk, **NARRATIVE, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _approved(officers, alert):
    drafter, reviewer = officers
    stor = _draft(drafter, alert)
    sent = drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    assert sent.status_code == 200, sent.json()
    response = reviewer.post(
        f"/api/v1/stors/{stor['id']}/review/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def test_draft_attaches_the_evidence_and_the_persons(officers, alert, fca, desk):
    stor = _draft(officers[0], alert)
    assert stor["status"] == "draft"
    assert stor["reference"].startswith("STOR-")
    assert stor["entity_name"] == "Example Securities Ltd"
    assert stor["entity_lei"] == "5493001KJTIIGC8Y1R12"
    kinds = [(t["kind"], t["side"], t["quantity"], t["price"]) for t in stor["transactions"]]
    assert ("fill", "buy", "5", "200") in kinds and ("fill", "sell", "8", "210") in kinds
    assert sum(1 for t in stor["transactions"] if t["kind"] == "order") == 2
    fill = next(t for t in stor["transactions"] if t["kind"] == "fill")
    assert fill["isin"] == "DE0007164600" and fill["venue"] == "XETR"
    roles = {p["role"]: p for p in stor["persons"]}
    assert roles["client / account holder"]["identifier"].startswith("account ACC-T2")
    assert "beneficial owner" in roles
    assert roles["trader (placed the orders)"]["identifier"] == "user tina"
    assert stor["indicators"][0].startswith("MAR Annex I A(c)")
    assert "SAP (ISIN DE0007164600)" in stor["instrument_description"]
    event = AuditEvent.objects.filter(event_type="STOR_UPDATED").get()
    assert json.loads(event.record)["payload"]["action"] == "drafted"
    assert event.actor == officers[0].user.username
    assert alert.notes.filter(action="stor_drafted").exists()


def test_the_drafter_cannot_approve_their_own(officers, alert, fca):
    drafter, reviewer = officers
    stor = _draft(drafter, alert)
    drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    own = drafter.post(
        f"/api/v1/stors/{stor['id']}/review/", {"decision": "approve"}, format="json"
    )
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "four_eyes_required"
    assert Stor.objects.get().status == "in_review"
    assert not RegulatoryReport.objects.exists()


def test_send_back_needs_a_comment_and_returns_the_draft(officers, alert, fca):
    drafter, reviewer = officers
    stor = _draft(drafter, alert)
    drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    bare = reviewer.post(
        f"/api/v1/stors/{stor['id']}/review/", {"decision": "send_back"}, format="json"
    )
    assert bare.status_code == 400 and "comment" in bare.json()["error"]["details"]
    back = reviewer.post(
        f"/api/v1/stors/{stor['id']}/review/",
        {"decision": "send_back", "comment": "Say why the size matters."},
        format="json",
    )
    assert back.status_code == 200
    assert back.json()["status"] == "draft"
    assert back.json()["review_comment"] == "Say why the size matters."
    # the drafter edits and sends it again; the reviewer cannot edit it
    edit = {"persons_notes": "The client's director placed both orders by phone."}
    assert reviewer.patch(f"/api/v1/stors/{stor['id']}/", edit, format="json").status_code == 403
    edited = drafter.patch(f"/api/v1/stors/{stor['id']}/", edit, format="json")
    assert edited.status_code == 200 and edited.json()["persons_notes"] == edit["persons_notes"]
    actions = [p["action"] for p in _payloads("STOR_UPDATED")]
    assert actions == ["drafted", "review_requested", "sent_back", "edited"]


def test_review_needs_the_template_fields(officers, alert, fca):
    drafter, _ = officers
    stor = _draft(drafter, alert, suspicion_description="", regulatory_entity=None)
    response = drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "stor_incomplete"
    assert set(body["details"]) == {"suspicion_description", "regulatory_entity"}
    assert Stor.objects.get().status == "draft"


def test_approval_exports_a_sealed_pdf_and_a_schema_valid_xml(officers, alert, fca):
    stor = _approved(officers, alert)
    assert stor["status"] == "approved" and stor["filing_status"] == "draft"
    pdf = RegulatoryReport.objects.get(pk=stor["pdf_report"])
    xml = RegulatoryReport.objects.get(pk=stor["file_report"])
    assert {pdf.report_type, xml.report_type} == {ReportType.STOR}
    assert (pdf.format, xml.format) == ("pdf", "xml")
    assert pdf.regulatory_entity == fca and pdf.record_count == 4
    assert pdf.parameters == {"stor_reference": stor["reference"], "alert": str(alert.pk)}
    body = officers[1].get(f"/api/v1/reports/{xml.pk}/download/")
    assert body.status_code == 200
    content = b"".join(body.streaming_content)
    document = etree.fromstring(content)
    assert stor_schema().validate(document)
    ns = {"s": "urn:tradecompliance:stor:1"}
    assert document.findtext("s:Reference", namespaces=ns) == stor["reference"]
    assert document.findtext("s:Suspicion/s:BreachType", namespaces=ns) == "market_manipulation"
    quantities = document.xpath("//s:Transaction/s:Quantity/text()", namespaces=ns)
    assert sorted(Decimal(q) for q in quantities) == [5, 5, 8, 8]
    pdf_bytes = b"".join(officers[0].get(f"/api/v1/reports/{pdf.pk}/download/").streaming_content)
    assert pdf_bytes.startswith(b"%PDF") and pdf_seal_verify(pdf_bytes)
    assert sorted(p["format"] for p in _payloads("REPORT_GENERATED")) == ["pdf", "xml"]


def test_filing_moves_both_files_and_marks_the_alert_reported(officers, alert, fca):
    stor = _approved(officers, alert)
    officer = officers[0]
    response = officer.post(
        f"/api/v1/reports/{stor['file_report']}/status/",
        {"status": "submitted", "note": "FCA-STOR-2026-0042"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    pdf = RegulatoryReport.objects.get(pk=stor["pdf_report"])
    assert pdf.status == "submitted" and pdf.submission_reference == "FCA-STOR-2026-0042"
    alert.refresh_from_db()
    assert alert.reported_at is not None
    assert alert.report_reference == f"{stor['reference']} / FCA-STOR-2026-0042"
    assert alert.notes.filter(action="reported").count() == 1
    assert len(_payloads("ALERT_UPDATED", action="reported")) == 1
    accepted = officer.post(
        f"/api/v1/reports/{stor['pdf_report']}/status/",
        {"status": "accepted", "note": "Received"},
        format="json",
    )
    assert accepted.status_code == 200
    assert officer.get(f"/api/v1/stors/{stor['id']}/").json()["filing_status"] == "accepted"
    assert alert.notes.filter(action="stor_accepted").count() == 1
    # a filed STOR stands: the alert takes no second one
    again = officer.post("/api/v1/stors/", {"alert": alert.pk}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "stor_exists"


def test_a_rejected_stor_lets_the_alert_be_reported_again(officers, alert, fca):
    stor = _approved(officers, alert)
    officer = officers[0]
    url = f"/api/v1/reports/{stor['file_report']}/status/"
    officer.post(url, {"status": "submitted", "note": "FCA-1"}, format="json")
    officer.post(url, {"status": "rejected", "note": "Section 3 unclear"}, format="json")
    assert RegulatoryReport.objects.get(pk=stor["pdf_report"]).status == "rejected"
    assert officer.post("/api/v1/stors/", {"alert": alert.pk}, format="json").status_code == 201


def test_no_stor_for_an_alert_closed_as_no_abuse(officers, alert, fca):
    Alert.objects.filter(pk=alert.pk).update(status="closed", disposition="false_positive")
    response = officers[0].post("/api/v1/stors/", {"alert": alert.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "alert_not_suspicious"
    assert not Stor.objects.exists()


def test_reports_api_refuses_a_stor_without_an_approved_draft(api_client_for):
    response = api_client_for(Role.COMPLIANCE_OFFICER).post(
        "/api/v1/reports/",
        {
            "report_type": "stor",
            "period_start": "2026-11-20",
            "period_end": "2026-11-20",
            "format": "xml",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stor_draft_required"
    assert not RegulatoryReport.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"alert": "x"},
        {"alert": 999999},
        {"suspicion_description": "no alert"},
        {"alert": 1, "breach_type": "front_running"},
        {"alert": 1, "entity_lei": "not-an-lei"},
        {"alert": 1, "indicators": "one string"},
        {"alert": 1, "indicators": [1, 2]},
        {"alert": 1, "suspicion_description": "nul\x00"},
        {"alert": 1, "regulatory_entity": "NOPE"},
        {"alert": 1, "transactions": []},
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(officers, alert, fca, body):
    if body.get("alert") == 1:
        body = {**body, "alert": alert.pk}
    response = officers[0].post("/api/v1/stors/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "error" in response.json()
    assert not Stor.objects.exists()
    assert not AuditEvent.objects.filter(event_type="STOR_UPDATED").exists()


def test_a_stor_entity_must_be_a_competent_authority(officers, alert):
    RegulatoryEntity.objects.create(code="SEC", name="SEC", jurisdiction="United States")
    response = officers[0].post(
        "/api/v1/stors/", {"alert": alert.pk, "regulatory_entity": "SEC"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "report_not_for_entity"


# --- who sees it -----------------------------------------------------------------------------


def test_stor_endpoints_need_a_compliance_officer(api_client_for, officers, alert, fca):
    stor = _draft(officers[0], alert)
    base = f"/api/v1/stors/{stor['id']}"
    for method, url, data in [
        ("get", "/api/v1/stors/", None),
        ("post", "/api/v1/stors/", {"alert": alert.pk}),
        ("get", f"{base}/", None),
        ("post", f"{base}/review/", {"decision": "approve"}),
    ]:
        assert_api_role_required(api_client_for, method, url, Role.COMPLIANCE_OFFICER, data)
    # the drafter's own steps: refused below Compliance Officer, and to another officer too
    for method, url, data in [
        ("patch", f"{base}/", {"persons_notes": "x"}),
        ("post", f"{base}/review-request/", {}),
    ]:
        for role in (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER):
            response = getattr(api_client_for(role), method)(url, data, format="json")
            assert response.status_code == 403, (url, role)
            assert response.json()["error"]["code"] == "permission_denied"
        other = getattr(api_client_for(Role.COMPLIANCE_OFFICER), method)(url, data, format="json")
        assert other.status_code == 403
        assert other.json()["error"]["code"] == "stor_drafter_only"
        assert getattr(officers[0], method)(url, data, format="json").status_code == 200


def test_stor_reports_are_hidden_below_compliance(api_client_for, officers, alert, fca):
    stor = _approved(officers, alert)
    risk = api_client_for(Role.RISK_MANAGER)
    listed = risk.get("/api/v1/reports/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert not [r for r in rows if r["report_type"] == "stor"]
    assert not risk.get("/api/v1/reports/?report_type=stor").json()["results"]
    for report in (stor["pdf_report"], stor["file_report"]):
        for url in (f"/api/v1/reports/{report}/", f"/api/v1/reports/{report}/download/"):
            assert risk.get(url).status_code == 404
        status = risk.post(f"/api/v1/reports/{report}/status/", {"status": "submitted"})
        assert status.status_code == 403
    compliance = officers[0].get("/api/v1/reports/?report_type=stor").json()["results"]
    assert len(compliance) == 2


def test_stor_pages_need_a_compliance_officer(client, make_user, officers, alert, fca):
    stor = _draft(officers[0], alert)
    assert_page_role_required(client, make_user, "/reports/stors/", Role.COMPLIANCE_OFFICER)
    assert_page_role_required(
        client, make_user, f"/reports/stors/{stor['id']}/", Role.COMPLIANCE_OFFICER
    )


def test_stor_reports_are_not_on_the_reports_page_below_compliance(
    client, make_user, officers, alert, fca
):
    stor = _approved(officers, alert)
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/reports/")
    assert page.status_code == 200
    assert stor["reference"] not in page.content.decode()
    assert b"stor" not in page.content.lower().replace(b"store", b"").replace(b"history", b"")
    for report in (stor["pdf_report"], stor["file_report"]):
        assert client.get(f"/reports/{report}/").status_code == 404
        assert client.get(f"/reports/{report}/download/").status_code == 404
    client.force_login(officers[0].user)
    assert stor["reference"] in client.get("/reports/?report_type=stor").content.decode()


def test_stor_admin_is_compliance_only(client, make_user, officers, alert, fca):
    stor = _approved(officers, alert)
    client.force_login(make_user(Role.RISK_MANAGER))
    assert client.get("/admin/reporting/stor/").status_code == 403
    reports = client.get("/admin/reporting/regulatoryreport/")
    assert reports.status_code == 200
    assert stor["reference"] not in reports.content.decode()
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    listing = client.get("/admin/reporting/stor/")
    assert listing.status_code == 200 and stor["reference"] in listing.content.decode()
    assert client.get(f"/admin/reporting/stor/{stor['id']}/change/").status_code == 200
    assert client.post(f"/admin/reporting/stor/{stor['id']}/delete/").status_code == 403


def test_the_stor_work_notifies_nobody(officers, alert, fca):
    """No tipping off: nothing about a STOR leaves the platform (the trader, a channel the
    front office reads), from the draft to the filing."""
    stor = _approved(officers, alert)
    officers[0].post(
        f"/api/v1/reports/{stor['file_report']}/status/",
        {"status": "submitted", "note": "FCA-9"},
        format="json",
    )
    assert not Delivery.objects.exists()


def test_the_alert_api_shows_the_report_reference(officers, alert, fca):
    stor = _approved(officers, alert)
    officers[0].post(
        f"/api/v1/reports/{stor['file_report']}/status/",
        {"status": "submitted", "note": "FCA-77"},
        format="json",
    )
    shown = officers[0].get(f"/api/v1/surveillance/alerts/{alert.pk}/").json()
    assert shown["report_reference"] == f"{stor['reference']} / FCA-77"
    assert shown["reported_at"] is not None


# --- pages -----------------------------------------------------------------------------------


def test_the_whole_stor_on_the_pages(client, make_user, alert, fca):
    drafter = make_user(Role.COMPLIANCE_OFFICER)
    reviewer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(drafter)
    assert (
        b"Draft a STOR from this alert" in client.get(f"/surveillance/alerts/{alert.pk}/").content
    )
    drafted = client.post("/reports/stors/", {"alert": alert.pk})
    assert drafted.status_code == 302
    stor = Stor.objects.get()
    assert drafted["Location"] == f"/reports/stors/{stor.pk}/"
    page = client.get(f"/reports/stors/{stor.pk}/").content.decode()
    assert "DE0007164600" in page and "stor-edit-form" in page
    saved = client.post(
        f"/reports/stors/{stor.pk}/",
        {
            "action": "edit",
            "regulatory_entity": "FCA",
            "entity_name": "Example Securities Ltd",
            "person_name": "Clara Compton",
            "breach_type": "market_manipulation",
            "suspicion_description": "Bought and sold back within the hour, one owner.",
            "indicators": "MAR Annex I A(c)\n\nLarge relative to the holding",
            "attachments": "",
        },
    )
    assert saved.status_code == 302
    stor.refresh_from_db()
    assert stor.indicators == ["MAR Annex I A(c)", "Large relative to the holding"]
    assert stor.regulatory_entity == fca
    assert (
        client.post(f"/reports/stors/{stor.pk}/", {"action": "review_request"}).status_code == 302
    )
    # the drafter sees no review form and cannot approve by posting one
    assert "stor-review-form" not in client.get(f"/reports/stors/{stor.pk}/").content.decode()
    own = client.post(f"/reports/stors/{stor.pk}/", {"action": "approve"})
    assert own.status_code == 403
    client.force_login(reviewer)
    assert "stor-review-form" in client.get(f"/reports/stors/{stor.pk}/").content.decode()
    approved = client.post(f"/reports/stors/{stor.pk}/", {"action": "approve"})
    assert approved.status_code == 302
    stor.refresh_from_db()
    assert stor.status == "approved" and stor.pdf_report and stor.file_report
    page = client.get(f"/reports/stors/{stor.pk}/").content.decode()
    assert f"/reports/{stor.file_report.pk}/download/" in page
    listing = client.get("/reports/stors/").content.decode()
    assert stor.reference in listing


@pytest.mark.parametrize(
    "form",
    [
        {"action": "edit", "entity_lei": "bad", "breach_type": "market_manipulation"},
        {"action": "edit", "breach_type": "nonsense"},
        {"action": "edit", "breach_type": "market_manipulation", "person_name": "a\x00b"},
        {"action": "edit", "breach_type": "market_manipulation", "regulatory_entity": "NOPE"},
        {"action": "mystery"},
    ],
)
def test_bad_page_input_is_a_400_that_changes_nothing(client, officers, alert, fca, form):
    stor = _draft(officers[0], alert)
    before = Stor.objects.values().get()
    client.force_login(officers[0].user)
    response = client.post(f"/reports/stors/{stor['id']}/", form)
    assert response.status_code == 400
    assert Stor.objects.values().get() == before


@pytest.mark.parametrize("alert_field", ["", "abc", "999999", "1\x00", "²", "9" * 30])
def test_drafting_from_an_unknown_alert_on_the_page_is_a_400(client, officers, alert_field):
    client.force_login(officers[0].user)
    assert client.post("/reports/stors/", {"alert": alert_field}).status_code == 400
    assert not Stor.objects.exists()


def test_stor_page_posts_are_refused_below_compliance(client, make_user, officers, alert, fca):
    stor = _draft(officers[0], alert)
    for role in (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER):
        client.force_login(make_user(role))
        assert client.post("/reports/stors/", {"alert": alert.pk}).status_code == 403
        for action in ("edit", "review_request", "approve", "send_back"):
            response = client.post(f"/reports/stors/{stor['id']}/", {"action": action})
            assert response.status_code == 403
    assert Stor.objects.count() == 1 and Stor.objects.get().status == "draft"


def test_a_stor_report_page_names_its_stor_and_files_both(client, officers, alert, fca):
    stor = _approved(officers, alert)
    client.force_login(officers[0].user)
    page = client.get(f"/reports/{stor['pdf_report']}/").content.decode()
    assert stor["reference"] in page and f"/reports/stors/{stor['id']}/" in page
    filed = client.post(f"/reports/{stor['pdf_report']}/", {"status": "submitted", "note": "FCA-5"})
    assert filed.status_code == 302
    assert RegulatoryReport.objects.get(pk=stor["file_report"]).status == "submitted"
    assert Alert.objects.get(pk=alert.pk).report_reference.endswith("/ FCA-5")


def test_a_long_description_runs_on_over_pages(officers, alert, fca):
    drafter, reviewer = officers
    long_text = "\n".join(f"Point {n}: " + "the orders moved the touch. " * 12 for n in range(55))
    assert len(long_text) < 20000
    stor = _draft(drafter, alert, suspicion_description=long_text, additional_information=long_text)
    drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    approved = reviewer.post(
        f"/api/v1/stors/{stor['id']}/review/", {"decision": "approve"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    pdf = b"".join(
        reviewer.get(f"/api/v1/reports/{approved.json()['pdf_report']}/download/").streaming_content
    )
    assert pdf_seal_verify(pdf) and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") > 2


def test_without_a_firm_name_the_drafter_writes_it(settings, officers, alert, fca):
    settings.FIRM_NAME = ""
    drafter = officers[0]
    stor = _draft(drafter, alert)
    assert stor["entity_name"] == ""
    response = drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"entity_name"}
    drafter.patch(f"/api/v1/stors/{stor['id']}/", {"entity_name": "Example Ltd"}, format="json")
    sent = drafter.post(f"/api/v1/stors/{stor['id']}/review-request/", {}, format="json")
    assert sent.status_code == 200


@pytest.mark.parametrize("alert_field", ["abc", "²", "9" * 30])
def test_listing_by_an_alert_that_is_no_number_is_no_server_error(officers, alert_field):
    response = officers[0].get("/api/v1/stors/", {"alert": alert_field})
    assert response.status_code == 200
