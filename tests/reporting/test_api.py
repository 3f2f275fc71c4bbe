"""The reports API: roles, generating, bad input, downloading with the hash re-checked."""

import hashlib

import pytest

from apps.audit.models import AuditEvent
from apps.notifications.models import Delivery
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from tests.permissions import assert_api_role_required
from tests.reporting.factories import DAY

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"
BODY = {
    "report_type": "daily_trading",
    "period_start": "2026-11-20",
    "period_end": "2026-11-20",
    "format": "csv",
}


@pytest.fixture
def officer(api_client_for):
    return api_client_for(Role.COMPLIANCE_OFFICER)


def generated(officer, **overrides) -> dict:
    response = officer.post(REPORTS, {**BODY, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_listing_needs_a_risk_manager(api_client_for):
    assert_api_role_required(api_client_for, "get", REPORTS, Role.RISK_MANAGER)


def test_generating_needs_compliance_officer(api_client_for, desk):
    assert_api_role_required(api_client_for, "post", REPORTS, Role.COMPLIANCE_OFFICER, BODY)


def test_detail_download_and_status_roles(api_client_for, desk, officer):
    report = generated(officer)
    assert_api_role_required(api_client_for, "get", f"{REPORTS}{report['id']}/", Role.RISK_MANAGER)
    assert_api_role_required(
        api_client_for, "get", f"{REPORTS}{report['id']}/download/", Role.RISK_MANAGER
    )
    assert_api_role_required(
        api_client_for,
        "post",
        f"{REPORTS}{report['id']}/status/",
        Role.COMPLIANCE_OFFICER,
        {"status": "submitted", "submission_reference": "REF-1"},
    )


def test_generate_then_download_matches_the_hash(api_client_for, desk, officer):
    report = generated(officer)
    assert report["record_count"] == 5
    assert report["version"] == 1 and report["status"] == "draft"
    assert report["generated_by"] == officer.user.username
    viewer = api_client_for(Role.RISK_MANAGER)
    response = viewer.get(report["download_url"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == report["sha256"] == response["X-Content-SHA256"]
    assert len(body) == report["size"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert "daily_trading_2026-11-20_v1.csv" in response["Content-Disposition"]
    event = AuditEvent.objects.filter(event_type="REPORT_DOWNLOADED").get()
    assert event.actor == viewer.user.username and '"outcome":"served"' in event.record


def test_list_filters(api_client_for, desk, officer):
    generated(officer)
    generated(officer, report_type="positions", format="json")
    listed = officer.get(REPORTS, {"report_type": "positions"}).json()
    assert [r["report_type"] for r in listed["results"]] == ["positions"]
    assert officer.get(REPORTS, {"file_format": "xml"}).json()["results"] == []
    bad = officer.get(REPORTS, {"report_type": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"report_type": "nope"}, "report_type"),
        ({"format": "docx"}, "format"),
        ({"format": "xml"}, "format"),  # XML is for the MiFIR report only
        ({"period_start": "2026-13-01"}, "period_start"),
        ({"period_end": "2026-11-19"}, "period_end"),  # before the start
        ({"period_start": "2024-01-01"}, "period_end"),  # longer than a year
        ({"period_start": "2099-01-01", "period_end": "2099-01-01"}, "period_end"),  # future
        ({"regulatory_entity": "NOPE"}, "regulatory_entity"),
        ({"period_start": None}, "period_start"),
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(officer, desk, overrides, field):
    response = officer.post(REPORTS, {**BODY, **overrides}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert not RegulatoryReport.objects.exists()
    assert not AuditEvent.objects.filter(event_type="REPORT_GENERATED").exists()


def test_a_tampered_file_is_refused_and_alerts_compliance(api_client_for, desk, officer):
    officer.user.email = "officer@example.com"
    officer.user.save(update_fields=["email"])
    report = generated(officer)
    stored = RegulatoryReport.objects.get(pk=report["id"])
    path = stored.file.path
    with open(path, "ab") as handle:
        handle.write(b"ACC-T1,forged row\n")
    response = api_client_for(Role.RISK_MANAGER).get(report["download_url"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "report_integrity_failed"
    assert error["details"]["expected_sha256"] == report["sha256"]
    assert error["details"]["found_sha256"] != report["sha256"]
    alert = Delivery.objects.get(event="report.integrity_failed")
    assert alert.payload["severity"] == "critical" and alert.target == "officer@example.com"
    refused = AuditEvent.objects.get(event_type="REPORT_DOWNLOADED")
    assert (
        '"outcome":"refused"' in refused.record and '"problem":"sha256_mismatch"' in refused.record
    )


def test_a_missing_file_is_refused_too(api_client_for, desk, officer):
    report = generated(officer)
    stored = RegulatoryReport.objects.get(pk=report["id"])
    stored.file.storage.delete(stored.file.name)
    response = api_client_for(Role.RISK_MANAGER).get(report["download_url"])
    assert response.status_code == 409
    assert response.json()["error"]["details"]["found_sha256"] is None


def test_filing_steps(officer, desk):
    report = generated(officer)
    url = f"{REPORTS}{report['id']}/status/"
    no_ref = officer.post(url, {"status": "submitted"}, format="json")
    assert no_ref.status_code == 400
    assert "note" in no_ref.json()["error"]["details"]
    early = officer.post(url, {"status": "accepted"}, format="json")
    assert early.status_code == 400
    assert early.json()["error"]["code"] == "invalid_transition"
    submitted = officer.post(
        url, {"status": "submitted", "submission_reference": "FCA-1"}, format="json"
    )
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    accepted = officer.post(
        url, {"status": "rejected", "regulator_response": "CON-412 bad price"}, format="json"
    )
    assert accepted.json()["status"] == "rejected"
    assert accepted.json()["regulator_response"] == "CON-412 bad price"
    events = AuditEvent.objects.filter(event_type="REPORT_STATUS_CHANGED").count()
    assert events == 2
    again = officer.post(url, {"status": "accepted"}, format="json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_transition"
    assert officer.post(url, {"status": "draft"}, format="json").status_code == 400
    assert officer.post(url, {"status": "x\x00"}, format="json").status_code == 400


def test_unknown_report_is_a_404(officer):
    for url in (f"{REPORTS}999999/", f"{REPORTS}999999/download/"):
        response = officer.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "report_not_found"


def test_day_constant_is_a_friday():
    assert DAY.isoweekday() == 5
