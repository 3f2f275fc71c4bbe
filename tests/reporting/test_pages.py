"""The reports page: list and filters (Viewer), generate now (Compliance Officer), downloads."""

import hashlib
import re

import pytest

from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from tests.permissions import assert_page_role_required

pytestmark = pytest.mark.django_db
PAGE = "/reports/"
FORM = {
    "report_type": "daily_trading",
    "period_start": "2026-11-20",
    "period_end": "2026-11-20",
    "format": "csv",
}


def test_the_page_needs_a_risk_manager(client, make_user):
    """A report covers every account: only a role that sees every account reads one."""
    assert_page_role_required(client, make_user, PAGE, Role.RISK_MANAGER)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_generating_needs_compliance_officer(client, make_user, desk, role):
    client.force_login(make_user(role))
    page = client.get(PAGE)
    assert b'id="generate"' not in page.content
    assert client.post(PAGE, FORM).status_code == 403
    assert not RegulatoryReport.objects.exists()


def test_officer_generates_and_downloads(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    assert b'id="generate"' in client.get(PAGE).content
    response = client.post(PAGE, FORM, follow=True)
    report = RegulatoryReport.objects.get()
    assert response.status_code == 200
    assert f"SHA-256 {report.sha256}".encode() in response.content
    assert f'id="report-{report.pk}"'.encode() in response.content
    download = client.get(f"/reports/{report.pk}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == report.sha256


def test_bad_form_is_a_400_and_stores_nothing(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    for bad in (
        {"period_start": "yesterday"},
        {"format": "xml"},
        {"report_type": "gossip"},
        {"period_end": "2026-11-01"},
        {"regulatory_entity": "NOPE"},
        {"period_start": "2026-11-20\x00"},
        {"regulatory_entity": "SEC\x00"},
    ):
        response = client.post(PAGE, {**FORM, **bad})
        assert response.status_code == 400, bad
        assert b'id="report-errors"' in response.content
    assert not RegulatoryReport.objects.exists()


def test_a_refused_mifir_report_says_why_on_the_page(client, make_user, desk, settings):
    settings.REPORTING_FIRM_LEI = "529900T8BM49AURSDO56"  # a check digit off
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    response = client.post(PAGE, {**FORM, "report_type": "mifir_transactions", "format": "xml"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The firm&#x27;s LEI is missing or invalid" in page
    assert "not a valid LEI (ISO 17442 check digits)" in page
    assert not RegulatoryReport.objects.exists()


def test_filters_and_bad_filters(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    client.post(PAGE, FORM)
    client.post(PAGE, {**FORM, "report_type": "positions"})
    page = client.get(PAGE, {"report_type": "positions"})
    assert page.content.count(b'class="download"') == 1
    assert client.get(PAGE, {"file_format": "pdf"}).content.count(b'class="download"') == 0
    assert client.get(PAGE, {"period_from": "not-a-date"}).status_code == 200
    assert client.get(PAGE, {"page": "99999"}).status_code == 200


def test_a_tampered_file_is_refused_on_the_page(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    client.post(PAGE, FORM)
    report = RegulatoryReport.objects.get()
    with open(report.file.path, "r+b") as handle:
        handle.write(b"X")
    response = client.get(f"/reports/{report.pk}/download/")
    assert response.status_code == 409
    assert b"does not match its recorded SHA-256" in response.content


def test_download_of_unknown_report_is_a_404(client, make_user):
    client.force_login(make_user(Role.RISK_MANAGER))
    assert client.get("/reports/424242/download/").status_code == 404


def test_download_page_needs_a_risk_manager(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    client.post(PAGE, FORM)
    report = RegulatoryReport.objects.get()
    client.logout()
    for role in (None, Role.VIEWER, Role.TRADER):
        client.force_login(make_user(role))
        assert client.get(f"/reports/{report.pk}/download/").status_code == 403


def test_back_office_lists_reports_read_only(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    client.post(PAGE, FORM)
    report = RegulatoryReport.objects.get()
    client.force_login(make_user(Role.RISK_MANAGER))
    listing = client.get("/admin/reporting/regulatoryreport/")
    assert listing.status_code == 200
    detail = client.get(f"/admin/reporting/regulatoryreport/{report.pk}/change/")
    assert detail.status_code == 200
    assert f"/reports/{report.pk}/download/".encode() in detail.content
    assert client.post(f"/admin/reporting/regulatoryreport/{report.pk}/delete/").status_code == 403
    assert client.get("/admin/reporting/regulatoryreport/add/").status_code == 403


def test_the_form_opens_on_the_last_day_with_executions_and_offers_only_real_formats(
    client, make_user, desk
):
    """Yesterday may have had no trading (a weekend, a holiday): an empty report built by
    default helps nobody. The desk's fills are on 2026-11-20."""
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    page = client.get(PAGE).content.decode()
    assert 'id="g-start" name="period_start" value="2026-11-20"' in page
    assert 'id="g-end" name="period_end" value="2026-11-20"' in page
    from apps.reporting.builders import BUILDERS

    offered = set(re.findall(r'<option value="([a-z_0-9]+:[a-z]+)"', page))
    assert offered == {f"{t}:{f}" for t, b in BUILDERS.items() for f in b.formats}
    assert "daily_trading:xml" not in offered and "mifir_transactions:xml" in offered


def test_a_report_is_marked_submitted_from_the_list(client, make_user, desk):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    client.post(PAGE, FORM)
    report = RegulatoryReport.objects.get()
    listing = client.get(PAGE).content.decode()
    assert "Mark submitted" in listing
    answer = client.post(
        f"/reports/{report.pk}/",
        {"action": "status", "status": "submitted", "note": "FCA-REF-77", "back": "list"},
    )
    assert answer.status_code == 302 and answer["Location"] == f"{PAGE}?highlight={report.pk}"
    report.refresh_from_db()
    assert report.status == "submitted"
    assert "Mark submitted" not in client.get(PAGE).content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_a_lower_role_cannot_mark_a_report_submitted(client, make_user, desk, role):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    client.post(PAGE, FORM)
    report = RegulatoryReport.objects.get()
    client.force_login(make_user(role))
    if role == Role.RISK_MANAGER:
        assert "Mark submitted" not in client.get(PAGE).content.decode()
    answer = client.post(
        f"/reports/{report.pk}/", {"action": "status", "status": "submitted", "back": "list"}
    )
    assert answer.status_code == 403
    report.refresh_from_db()
    assert report.status == "draft"
