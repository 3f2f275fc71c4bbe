"""The approval queue in a real headless Chromium (Playwright driving Debian's chromium).

With DESK_SCREENSHOTS=<directory> set (docs/img), the request page with a surveillance alert is
saved there as approval-request.png.

A Compliance Officer keeps the queue open; a held order appears without a reload; the officer
approves it with a comment and it leaves the queue; the client sees the order accepted over the
API. A Trader gets 403 on the queue, and an officer cannot approve an order they submitted.
"""

import os
import re

import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_create
from apps.trading.models import Account, Instrument
from tests.approvals.conftest import ORDERS, order_body
from tests.browser import PASSWORD, api, sign_in
from tests.rules.factories import make_rule
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory


@pytest.fixture
def desk(audit_transactional_db):
    AccountFactory(code="ACC-T1")
    instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    ReferencePriceFactory(instrument=instrument)
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 600}, action="hold")
    tokens = {}
    for name, role in [
        ("alice", Role.COMPLIANCE_OFFICER),
        ("bob", Role.COMPLIANCE_OFFICER),
        ("tina", Role.TRADER),
    ]:
        user = user_create(username=name, password=PASSWORD, role=role)
        tokens[name] = api_token_issue(user=user, name="browser-test")[1]
    # Everything after this goes over HTTP to the live server, as a client would.
    return tokens


def test_officer_approves_a_held_order_that_arrives_live(desk, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "alice")
    page.goto(f"{base}/approvals/")
    expect(page.locator("#queue-empty")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # lost if the page reloads

    # The order is held after the page is open.
    held = api(base, desk["tina"], ORDERS, order_body("live-1"))
    assert held["status"] == "pending_approval"
    row = page.locator(f"#approval-{held['approval']['id']}")
    expect(row).to_be_visible(timeout=15_000)
    assert page.evaluate("window.sameDocument") is True
    expect(row).to_contain_text("Buy 10 AAPL")
    # A live countdown (ten minutes to live): "9:58", then "9:57"...
    expect(row.locator(".countdown")).to_have_text(re.compile(r"^9:[0-5]\d$"))

    row.get_by_role("link", name="Review").click()
    page.wait_for_url(f"{base}/approvals/{held['approval']['id']}/")
    expect(page.locator("#limits")).to_contain_text("approval_threshold")
    expect(page.locator("#position")).to_contain_text("If this order fills")
    page.fill("#comment", "Within the client's mandate; desk head confirmed.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{base}/approvals/")
    expect(page.locator(".messages")).to_contain_text(f"Order #{held['id']} approved.")
    expect(page.locator(f"#approval-{held['approval']['id']}")).to_have_count(0)

    order = api(base, desk["tina"], f"{ORDERS}{held['id']}/")
    assert order["status"] == "accepted"
    assert order["approval"]["status"] == "approved"


def test_a_trader_gets_403_on_the_queue(desk, browser, live_server):
    page = sign_in(browser, live_server.url, "tina")
    response = page.goto(f"{live_server.url}/approvals/")
    assert response.status == 403


def test_the_submitter_cannot_approve_their_own_order(desk, browser, live_server):
    base = live_server.url
    held = api(base, desk["bob"], ORDERS, order_body("own-1"))
    assert held["status"] == "pending_approval"
    page = sign_in(browser, base, "bob")
    url = f"{base}/approvals/{held['approval']['id']}/"
    page.goto(url)
    expect(page.locator(".notice")).to_contain_text("You submitted this order")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    # Posting the form anyway (with the session and its CSRF token) is refused.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    response = page.request.post(
        url,
        form={"csrfmiddlewaretoken": token, "decision": "approve", "comment": "mine"},
        headers={"Referer": url},
    )
    assert response.status == 403
    order = api(base, desk["tina"], f"{ORDERS}{held['id']}/")
    assert order["status"] == "pending_approval"


@pytest.fixture
def wash_trade_alert(desk):
    from tests.surveillance.factories import AlertFactory

    return AlertFactory(
        account=Account.objects.get(code="ACC-T1"),
        instrument=Instrument.objects.get(symbol="AAPL"),
        detector="wash_trade",
        severity="critical",
        title="Wash trade: ACC-T1 bought and sold 100 AAPL to itself",
    )


def test_the_request_page_lists_a_surveillance_alert_of_the_account(
    desk, wash_trade_alert, browser, live_server
):
    alert = wash_trade_alert
    base = live_server.url
    held = api(base, desk["tina"], ORDERS, order_body("seen-1"))
    page = sign_in(browser, base, "alice")
    page.goto(f"{base}/approvals/{held['approval']['id']}/")
    row = page.locator(f"#surveillance-alert-{alert.pk}")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Critical")
    expect(row).to_contain_text("Wash trade: ACC-T1 bought and sold 100 AAPL")
    expect(row).to_contain_text("same instrument")
    expect(row).to_have_class(re.compile("same-instrument"))
    expect(page.locator("#position-now")).to_contain_text("0")
    expect(page.locator("#position-worst-case")).to_contain_text("10")
    expect(page.locator("#history")).to_contain_text("Held for approval")
    if folder := os.environ.get("DESK_SCREENSHOTS"):  # docs/img: the page in docs/approvals.md
        page.screenshot(path=f"{folder}/approval-request.png", full_page=True)
    row.get_by_role("link", name=f"#{alert.pk}").click()
    page.wait_for_url(f"{base}/surveillance/alerts/{alert.pk}/")
