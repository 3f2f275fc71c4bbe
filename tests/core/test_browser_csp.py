"""The Content-Security-Policy in a real browser: every page and the back office run without
one violation (no inline script or style left behind), and the API docs still work."""

import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from tests.browser import PASSWORD, sign_in
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

PAGES = [
    "/",
    "/dashboard/",
    "/kill-switch/",
    "/approvals/",
    "/approvals/history/",
    "/surveillance/alerts/",
    "/reports/",
    "/admin/",
    "/admin/trading/order/",
    "/admin/auth/user/add/",
]


@pytest.fixture
def staff(audit_transactional_db):
    AccountFactory(code="ACC-T1")
    ReferencePriceFactory(instrument=InstrumentFactory(symbol="AAPL", isin="US0378331005"))
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN)


def _watch(page) -> list[str]:
    violations = []

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            violations.append(f"{page.url}: {text}")

    page.on("console", on_console)
    return violations


def test_no_page_breaks_the_policy(staff, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "ada")
    violations = _watch(page)
    for path in PAGES:
        response = page.goto(f"{base}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        assert response.headers["cache-control"] == "no-store", path
        page.wait_for_load_state("networkidle")
    assert violations == []


def test_the_api_docs_render_under_the_policy(staff, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "ada")
    violations = _watch(page)
    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Trade Compliance", timeout=20_000
    )
    assert violations == []
