"""The surveillance pages in a real headless Chromium (Playwright driving Debian's chromium).

A Compliance Officer opens the alert list, opens a spoofing alert, sees its timeline chart,
takes the case, comments, closes it as a false positive, and finds the detector's
false-positive rate updated on the list.

With SURVEILLANCE_SCREENSHOT=<path> set, the alert page is saved there as a PNG (the picture in
docs/surveillance.md: `SURVEILLANCE_SCREENSHOT=docs/img/surveillance-alert.png`).
"""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from apps.surveillance.models import Alert, DetectorConfig
from apps.surveillance.runner import surveillance_catch_up
from apps.surveillance.services import detector_configs_ensure
from tests.browser import PASSWORD, sign_in
from tests.surveillance.conftest import Desk


class Clock:
    """Django's clock, moved on by hand: the flow gets a desk's pace (what the chart draws and
    the detector's windows read) without the test waiting for it."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def spoofing_flow(desk: Desk, clock: Clock) -> None:
    """A desk's quiet bids, then a bid a hundred times their size pulled within a second while
    the account's offer fills; spread over a few seconds so that the chart reads like a tape."""
    detector_configs_ensure()
    DetectorConfig.objects.filter(detector="concentration").update(enabled=False)
    pause = 0.25
    for quantity, price, filled in [
        ("10", "99.00", False),
        ("12", "99.10", True),
        ("8", "98.90", False),
        ("10", "99.05", True),
        ("10", "99.00", False),
        ("10", "98.95", False),
    ]:
        order = desk.order(desk.b, "buy", quantity, price)
        clock.advance(pause)
        if filled:
            desk.fill(order)
            clock.advance(pause)
    offer = desk.order(desk.b, "sell", "10", "100.80")
    clock.advance(pause)
    stale = desk.order(desk.b, "sell", "10", "101.20")
    clock.advance(pause)
    spoof = desk.order(desk.b, "buy", "1000", "99.50")
    clock.advance(0.4)
    desk.fill(offer)
    clock.advance(0.5)
    desk.cancel(spoof)
    clock.advance(pause)
    desk.cancel(stale)
    clock.advance(pause)
    desk.order(desk.b, "buy", "10", "99.00")


@pytest.fixture
def case(audit_transactional_db, monkeypatch):
    desk = Desk()
    with monkeypatch.context() as patched:
        # The tape ends a little before the real now: nothing is in the future.
        clock = Clock(timezone.now() - timedelta(seconds=10))
        patched.setattr(timezone, "now", clock)
        spoofing_flow(desk, clock)
    surveillance_catch_up()
    alert = Alert.objects.get(detector="spoofing")
    user_create(username="alice", password=PASSWORD, role=Role.COMPLIANCE_OFFICER)
    # What the chart must show; everything after this goes through the browser.
    return {
        "alert": alert.pk,
        "orders": desk.b.orders.filter(instrument=desk.aapl).count(),
        "canceled": desk.b.orders.filter(status="canceled").count(),
        "fills": 3,
    }


def test_officer_closes_a_spoofing_alert_as_a_false_positive(case, browser, live_server):
    base, alert_id = live_server.url, case["alert"]
    page = sign_in(browser, base, "alice", width=1280, height=820)
    page.get_by_role("link", name="Surveillance", exact=True).click()
    page.wait_for_url(f"{base}/surveillance/alerts/")
    row = page.locator(f"#alert-{alert_id}")
    expect(row).to_contain_text("Spoofing")
    expect(row.locator(".sev")).to_have_text("Warning")
    expect(page.locator("#fp-spoofing .fp-rate")).to_contain_text("none closed")

    row.get_by_role("link").click()
    page.wait_for_url(f"{base}/surveillance/alerts/{alert_id}/")
    chart = page.locator("#timeline svg.timeline-chart")
    expect(chart).to_be_visible()
    expect(chart.locator(".marker.order")).to_have_count(case["orders"])
    expect(chart.locator(".marker.order.canceled")).to_have_count(case["canceled"])
    expect(chart.locator(".marker.fill")).to_have_count(case["fills"])
    expect(chart.locator(".marker.order.buy.canceled.evidence")).to_have_count(1)
    expect(chart.locator(".marker.fill.sell.evidence")).to_have_count(1)
    box = chart.bounding_box()
    assert box["width"] > 900 and box["height"] > 300
    if path := os.environ.get("SURVEILLANCE_SCREENSHOT"):
        bottom = page.locator("#evidence").bounding_box()
        page.screenshot(
            path=path,
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": bottom["y"] + bottom["height"] + 24},
        )

    # Take the case: the officer is offered first when nobody has it.
    expect(page.locator("#assignee option:checked")).to_have_text("alice (me)")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text(f"Alert #{alert_id} assigned to alice.")
    expect(page.locator("#alert-assignee")).to_have_text("alice")

    page.fill("#comment-text", "A one-off resize by the desk's market-making bot; see ticket 4411.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#notes")).to_contain_text("see ticket 4411")

    page.select_option("#disposition", "false_positive")
    page.fill("#close-comment", "The bot's size cap was misconfigured for a minute; fixed.")
    page.get_by_role("button", name="Close alert").click()
    expect(page.locator(".messages")).to_contain_text("closed as false positive")
    expect(page.locator("#alert-status")).to_have_text("Closed: False positive")
    expect(page.locator("#close-form")).to_have_count(0)

    page.get_by_role("link", name="← All alerts").click()
    page.wait_for_url(f"{base}/surveillance/alerts/")
    expect(page.locator(f"#alert-{alert_id}")).to_contain_text("Closed")
    expect(page.locator("#fp-spoofing .fp-closed")).to_have_text("1")
    expect(page.locator("#fp-spoofing .fp-percent")).to_have_text("100.0%")


@pytest.fixture
def trader_case(case):
    """The case, and a Trader entitled to the alert's account."""
    from apps.trading.models import AccountEntitlement

    user_create(username="tom", password=PASSWORD, role=Role.TRADER)
    assert AccountEntitlement.objects.filter(user__username="tom", account__code="ACC-B").exists()
    return {**case, "title": Alert.objects.get(pk=case["alert"]).title}


def test_a_trader_sees_no_surveillance_link_and_no_alert(trader_case, browser, live_server):
    """MAR: no tipping off. A Trader entitled to the alert's account finds no link to the
    alerts or the audit trail, and neither the pages nor the API in the same browser show
    the alert."""
    title = trader_case["title"]
    base, alert_id = live_server.url, trader_case["alert"]
    page = sign_in(browser, base, "tom")
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("link", name="Surveillance")).to_have_count(0)
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(title)
    for path in ("/surveillance/alerts/", f"/surveillance/alerts/{alert_id}/"):
        response = page.goto(f"{base}{path}")
        assert response.status == 403, path
        expect(page.locator("body")).not_to_contain_text(title)
    for path in (
        "/api/v1/surveillance/alerts/",
        f"/api/v1/surveillance/alerts/{alert_id}/",
        "/api/v1/audit/events/",
        "/api/v1/approvals/",
    ):
        response = page.goto(f"{base}{path}")
        assert response.status == 403, path
        assert title not in page.content()
