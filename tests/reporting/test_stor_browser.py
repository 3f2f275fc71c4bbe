"""A STOR in a real headless Chromium: one officer drafts it from the alert page, writes the
suspicion and sends it for review; a second officer approves it and finds its two files; a Risk
Manager has no STOR link and is refused the page."""

import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from apps.rules.models import RegulatoryEntity
from tests.browser import PASSWORD, sign_in
from tests.reporting.factories import make_desk
from tests.surveillance.factories import AlertFactory


@pytest.fixture
def case(audit_transactional_db):
    desk = make_desk()
    for name, role in [
        ("olivia", Role.COMPLIANCE_OFFICER),
        ("oscar", Role.COMPLIANCE_OFFICER),
        ("victor", Role.RISK_MANAGER),
    ]:
        user_create(username=name, password=PASSWORD, role=role)
    RegulatoryEntity.objects.create(
        code="FCA", name="Financial Conduct Authority", jurisdiction="UK", nca_country="GB"
    )
    fills = desk["fills"][1:3]
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


def test_two_officers_draft_and_approve_a_stor(case, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "olivia")
    page.goto(f"{base}/surveillance/alerts/{case.pk}/")
    page.get_by_role("button", name="Draft a STOR from this alert").click()
    expect(page.locator(".messages")).to_contain_text("drafted from alert")
    expect(page.locator("#stor-transactions")).to_contain_text("DE0007164600")
    page.select_option("#e-authority", "FCA")
    page.fill("#e-name", "Example Securities Ltd")
    page.fill("#e-description", "Bought and sold back within the hour by one owner.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft saved")
    page.get_by_role("button", name="Send for review").click()
    expect(page.locator("#stor-status")).to_have_text("In review")
    expect(page.locator("#stor-waiting")).to_be_visible()
    stor_url = page.url

    second = sign_in(browser, base, "oscar")
    second.get_by_role("link", name="STORs").click()
    second.locator("#stors a").first.click()
    assert second.url == stor_url
    second.get_by_role("button", name="Approve and export").click()
    expect(second.locator("#stor-status")).to_have_text("Approved and exported")
    expect(second.locator("#stor-files")).to_contain_text("XML (the file to file)")

    risk = sign_in(browser, base, "victor")
    expect(risk.get_by_role("link", name="STORs")).to_have_count(0)
    assert risk.goto(stor_url).status == 403
