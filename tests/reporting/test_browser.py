"""The reports page in a real headless Chromium (Playwright driving Debian's chromium).

A Compliance Officer signs in, generates the day's trading report from the page, downloads it,
and the downloaded file's SHA-256 is the one the page and the API show. A Viewer sees the list
but no generate form.
"""

import hashlib
import os

import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_create
from tests.browser import PASSWORD, api, sign_in
from tests.reporting.factories import make_desk


@pytest.fixture
def desk(audit_transactional_db):
    make_desk()
    tokens = {}
    for name, role in [("olivia", Role.COMPLIANCE_OFFICER), ("victor", Role.RISK_MANAGER)]:
        user = user_create(username=name, password=PASSWORD, role=role)
        tokens[name] = api_token_issue(user=user, name="browser-test")[1]
    # Everything after this goes over HTTP to the live server.
    return tokens


def test_officer_generates_and_downloads_a_report_matching_its_hash(
    desk, browser, live_server, tmp_path
):
    base = live_server.url
    page = sign_in(browser, base, "olivia", accept_downloads=True)
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{base}/reports/")
    expect(page.locator("#reports-empty")).to_be_visible()

    page.select_option("#g-report", "daily_trading:csv")
    page.fill("#g-start", "2026-11-20")
    page.fill("#g-end", "2026-11-20")
    page.click("#generate-button")
    expect(page.locator(".messages")).to_contain_text("Generated Daily trading 2026-11-20 v1")

    listed = api(base, desk["olivia"], "/api/v1/reports/")["results"]
    assert len(listed) == 1
    report = listed[0]
    assert report["record_count"] == 5 and report["generated_by"] == "olivia"
    row = page.locator(f"#report-{report['id']}")
    expect(row).to_contain_text("Daily trading")
    expect(row.locator(".sha256")).to_have_text(report["sha256"])
    if folder := os.environ.get("DESK_SCREENSHOTS"):  # docs/img/reports.png
        page.screenshot(path=f"{folder}/reports.png", full_page=True)

    with page.expect_download() as caught:
        row.get_by_role("link", name="Download").click()
    download = caught.value
    assert download.suggested_filename == "daily_trading_2026-11-20_v1.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    body = saved.read_bytes()
    assert hashlib.sha256(body).hexdigest() == report["sha256"]
    assert body.startswith(b"trade_date,trade_time,account,symbol,isin,side")
    assert body.count(b"\n") == 6  # the header and five fills


def test_a_risk_manager_sees_reports_but_cannot_generate(desk, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "victor")
    response = page.goto(f"{base}/reports/")
    assert response.status == 200
    expect(page.locator("#generate")).to_have_count(0)
    # Posting the form anyway (with the session and its CSRF token) is refused by role.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    posted = page.request.post(
        f"{base}/reports/",
        form={"csrfmiddlewaretoken": token, "report_type": "daily_trading",
              "period_start": "2026-11-20", "period_end": "2026-11-20", "format": "csv"},
        headers={"Referer": f"{base}/reports/"},
    )  # fmt: skip
    assert posted.status == 403
    assert api(base, desk["victor"], "/api/v1/reports/")["results"] == []


def test_the_generate_form_offers_only_the_formats_each_report_has(desk, browser, live_server):
    """No "XML" for a report that has no XML form: the select offers each type's own formats,
    and the dates open on the last day with executions (the desk's fills are on 2026-11-20)."""
    from apps.reporting.builders import BUILDERS

    expected = {f"{t}:{f}" for t, builder in BUILDERS.items() for f in builder.formats}
    page = sign_in(browser, live_server.url, "olivia")
    page.goto(f"{live_server.url}/reports/")
    offered = set(page.locator("#g-report option").evaluate_all("els => els.map(e => e.value)"))
    assert offered == expected
    assert "daily_trading:xml" not in offered and "mifir_transactions:xml" in offered
    expect(page.locator("#g-start")).to_have_value("2026-11-20")
