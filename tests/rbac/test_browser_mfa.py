"""The second factor in a real browser, under the Content-Security-Policy: a Compliance Officer
signs in, is sent to enrol, adds the secret to an "authenticator" (computed here from the
secret the page shows, as an app would), confirms, keeps the recovery codes and reaches the
page they asked for."""

from base64 import b32decode

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from tests.browser import PASSWORD


@pytest.fixture
def officer(audit_transactional_db, settings):
    settings.MFA_REQUIRED_ROLES = ["compliance"]
    user_create(username="olga", password=PASSWORD, role=Role.COMPLIANCE_OFFICER)


def test_enrol_at_first_sign_in_then_reach_the_page(officer, browser, live_server):
    base = live_server.url
    page = browser.new_context().new_page()
    violations = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{base}/approvals/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/accounts/otp/setup/?next=/approvals/")
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator(".otp-secret").inner_text().strip()

    page.fill("#id_otp", f"{totp(b32decode(secret)):06d}")
    page.click("main button[type=submit]")  # not the header's Sign out
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    page.click("text=Continue")
    page.wait_for_url(f"{base}/approvals/")
    expect(page.locator("h1")).to_contain_text("Approval")
    assert violations == []
