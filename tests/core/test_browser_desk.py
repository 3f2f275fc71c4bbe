"""The compliance desk in a real headless Chromium (Playwright driving Debian's chromium).

A halt is confirmed before it happens and then shows as a red banner on every page until a
second Risk Manager lifts it with a reason; an officer exports a filtered alert list as CSV and
Excel and finds in each file the rows the page showed; an officer closes several alerts at once;
a critical alert takes two officers to close.

With DESK_SCREENSHOTS=<directory> set (docs/img), the pages are saved there as PNGs: the
dashboard and the kill switch page under a halt, the alert list.
"""

import csv
import io
import os
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from tests.browser import PASSWORD, sign_in
from tests.surveillance.factories import AlertFactory
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory


def screenshot(page, name: str) -> None:
    if folder := os.environ.get("DESK_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / name), full_page=False)


@pytest.fixture
def desk(audit_transactional_db):
    account = AccountFactory(code="ACC-001")
    aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    msft = InstrumentFactory(symbol="MSFT", isin="US5949181045")
    for instrument in (aapl, msft):
        ReferencePriceFactory(instrument=instrument)
    for name, role in [
        ("risk", Role.RISK_MANAGER),
        ("risk2", Role.RISK_MANAGER),
        ("viewer", Role.VIEWER),
        ("alice", Role.COMPLIANCE_OFFICER),
        ("bob", Role.COMPLIANCE_OFFICER),
    ]:
        user_create(username=name, password=PASSWORD, role=role)
    alerts = {
        "wash": AlertFactory(
            account=account,
            instrument=aapl,
            detector="wash_trade",
            severity="critical",
            title="Wash trade: ACC-001 bought and sold 100 AAPL",
        ),
        "spoof": AlertFactory(
            account=account,
            instrument=msft,
            detector="spoofing",
            severity="warning",
            title="Spoofing on the MSFT bid",
        ),
        "rapid": AlertFactory(
            account=account,
            instrument=msft,
            detector="rapid_fire",
            severity="warning",
            title="Rapid-fire orders in MSFT",
        ),
        "info": AlertFactory(
            account=account,
            instrument=aapl,
            detector="concentration",
            severity="info",
            title="Concentration in AAPL",
        ),
    }
    return {name: alert.pk for name, alert in alerts.items()}


def test_a_halt_is_confirmed_then_bannered_on_every_page_until_lifted_with_a_reason(
    desk, browser, live_server
):
    base = live_server.url
    page = sign_in(browser, base, "risk")
    page.goto(f"{base}/kill-switch/")
    # The narrowest scope is the default: one instrument, not the firm.
    expect(page.locator("#id_scope")).to_have_value("instrument")
    page.fill("#id_target", "aapl")
    page.fill("#id_reason", "Erroneous prints from the venue")
    page.get_by_role("button", name="Halt trading").click()
    # Nothing is stopped before the confirmation.
    expect(page.locator("h1")).to_have_text("Confirm: stop trading")
    expect(page.locator("#halt-banner")).to_have_count(0)
    expect(page.locator("#confirm")).to_contain_text("instrument AAPL")
    page.get_by_role("button", name="Confirm: halt").click()
    page.wait_for_url(f"{base}/kill-switch/")
    banner = page.locator("#halt-banner")
    expect(banner).to_contain_text("Halted")
    expect(banner).to_contain_text("AAPL")
    expect(banner).to_contain_text("Erroneous prints from the venue")

    # On every page, and for everyone, from their next page load.
    other = sign_in(browser, base, "viewer")
    for path in ("/", "/orders/", "/kill-switch/"):
        other.goto(f"{base}{path}")
        expect(other.locator("#halt-banner")).to_contain_text("AAPL")
    officer = sign_in(browser, base, "alice")
    for path in ("/approvals/", "/surveillance/alerts/", "/reports/", "/audit/"):
        officer.goto(f"{base}{path}")
        expect(officer.locator("#halt-banner")).to_contain_text("Erroneous prints")
    page.goto(f"{base}/")
    screenshot(page, "dashboard.png")
    page.goto(f"{base}/kill-switch/")
    screenshot(page, "kill-switch.png")

    # A second Risk Manager lifts it; not without a reason.
    second = sign_in(browser, base, "risk2")
    second.goto(f"{base}/kill-switch/")
    lift = second.locator("form.ks-deactivate").first
    lift.locator("input[name=reason]").evaluate("el => el.removeAttribute('required')")
    lift.get_by_role("button", name="Deactivate").click()
    expect(second.locator("form.ks-deactivate .error")).to_contain_text(
        "Say why trading may resume."
    )
    expect(second.locator("#halt-banner")).to_be_visible()
    lift = second.locator("form.ks-deactivate").first
    lift.locator("input[name=reason]").fill("Venue confirmed the prints were busted")
    lift.get_by_role("button", name="Deactivate").click()
    expect(second.locator(".messages")).to_contain_text("deactivated")
    expect(second.locator("#halt-banner")).to_have_count(0)
    expect(second.locator("#history")).to_contain_text("Venue confirmed the prints were busted")
    other.goto(f"{base}/")
    expect(other.locator("#halt-banner")).to_have_count(0)


def shown_ids(page) -> list[int]:
    ids = page.locator("table.alert-list tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    return [int(i.removeprefix("alert-")) for i in ids]


def test_a_filtered_list_exports_as_csv_and_excel_with_the_rows_shown(desk, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "alice", accept_downloads=True)
    page.goto(f"{base}/surveillance/alerts/")
    page.fill("#f-q", "msft")  # any case
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"q=msft"))
    page.locator("th a.sort[data-sort=alert]").click()  # sort by detector
    page.wait_for_url(re.compile(r"sort=alert"))
    shown = shown_ids(page)
    assert sorted(shown) == sorted([desk["spoof"], desk["rapid"]])
    screenshot(page, "surveillance-alerts.png")

    with page.expect_download() as info:
        page.locator("a[data-export=csv]").click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text("utf-8"))))
    assert [int(r[rows[0].index("Id")]) for r in rows[1:]] == shown

    with page.expect_download() as info:
        page.locator("a[data-export=xlsx]").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    content = io.BytesIO(Path(info.value.path()).read_bytes())
    sheet = openpyxl.load_workbook(content, read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [int(r[values[0].index("Id")]) for r in values[1:]] == shown


def test_bulk_close_with_a_disposition(desk, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "alice")
    page.goto(f"{base}/surveillance/alerts/?q=MSFT")
    for key in ("spoof", "rapid"):
        page.check(f"#alert-{desk[key]} input[name=alert]")
    page.select_option("#bulk-disposition", "duplicate")
    page.fill("#bulk-comment", "Same burst as case 17.")
    page.locator("#bulk").get_by_role("button", name="Close").click()
    page.wait_for_url(re.compile(r"/surveillance/alerts/\?q=MSFT"))
    expect(page.locator(".messages")).to_contain_text("2 closed")
    for key in ("spoof", "rapid"):
        expect(page.locator(f"#alert-{desk[key]}")).to_contain_text("Closed")
        expect(page.locator(f"#alert-{desk[key]}")).to_contain_text("Duplicate")


def test_a_critical_alert_takes_two_officers_to_close(desk, browser, live_server):
    base = live_server.url
    url = f"{base}/surveillance/alerts/{desk['wash']}/"
    first = sign_in(browser, base, "alice")
    first.goto(url)
    first.select_option("#disposition", "false_positive")
    first.fill("#close-comment", "Two strategies of the desk crossed.")
    first.get_by_role("button", name="Propose closure").click()
    expect(first.locator(".messages")).to_contain_text("a second Compliance Officer confirms")
    expect(first.locator("#closure-proposal")).to_contain_text("Closure proposed")
    expect(first.get_by_role("button", name=re.compile("Confirm closure"))).to_have_count(0)
    expect(first.locator("#close-form")).to_have_count(0)

    second = sign_in(browser, base, "bob")
    second.goto(url)
    expect(second.locator("#closure-proposal")).to_contain_text("by alice")
    second.fill("#confirm-comment", "Agreed: both legs at market, no change of owner.")
    second.get_by_role("button", name=re.compile("Confirm closure")).click()
    expect(second.locator(".messages")).to_contain_text("closed as false positive")
    expect(second.locator("#closure-proposal")).to_have_count(0)
    second.goto(f"{base}/surveillance/alerts/?q=wash")
    row = second.locator(f"#alert-{desk['wash']}")
    expect(row).to_contain_text("Closed")
    expect(row).to_contain_text("False positive")
