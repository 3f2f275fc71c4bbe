"""The compliance dashboard in a real headless Chromium (Playwright driving Debian's chromium).

A Viewer opens /dashboard/: every chart has data from the database; an order sent over the API
afterwards shows up in the decisions chart without a reload. A user without a role gets 403.
"""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.monitoring.services import monitor_run
from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_create
from apps.surveillance.models import Alert
from apps.trading.models import Position
from tests.browser import PASSWORD, api, sign_in
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory


@pytest.fixture
def floor(audit_transactional_db):
    account = AccountFactory(code="ACC-T1")
    aapl = InstrumentFactory(symbol="AAPL", isin="US0378331005", calendar="24/7")
    ReferencePriceFactory(instrument=aapl)
    Position.objects.create(account=account, instrument=aapl, quantity=Decimal("10"))
    make_rule("max_notional", {"max_notional": "5000"}, code="NOTIONAL-5K")
    make_rule("position_weight", {"max_pct": "5"})  # one position: 100% of the book
    now = timezone.now()
    Alert.objects.create(
        detector="spoofing",
        severity="critical",
        account=account,
        instrument=aapl,
        dedup_key="spoofing:ACC-T1:AAPL",
        title="Spoofing pattern on AAPL",
        score=Decimal("0.91"),
        window_start=now,
        window_end=now,
        first_seq=1,
    )
    tokens = {}
    for name, role in [("vera", Role.COMPLIANCE_OFFICER), ("tina", Role.TRADER), ("nobody", None)]:
        user = user_create(username=name, password=PASSWORD, role=role)
        tokens[name] = api_token_issue(user=user, name="browser-test")[1]
    monitor_run()
    return tokens


def chart_total(page, name: str) -> int:
    return page.evaluate(
        f"""() => window.dashboardCharts.{name}.data.datasets
             .flatMap(d => d.data).reduce((a, b) => a + b, 0)"""
    )


def test_the_dashboard_renders_live_charts(floor, browser, live_server):
    base = live_server.url
    tina = floor["tina"]
    assert api(base, tina, "/api/v1/orders/", order_body("b-1"))["status"] == "accepted"
    big = order_body("b-2", quantity="1000")
    assert api(base, tina, "/api/v1/orders/", big)["status"] == "rejected"

    page = sign_in(browser, base, "vera")
    page.goto(f"{base}/dashboard/")
    # A function, not an expression: Playwright evaluates a bare expression with eval, which
    # the Content-Security-Policy refuses.
    page.wait_for_function("() => Number(document.getElementById('dashboard').dataset.loaded) >= 1")
    page.evaluate("window.sameDocument = true")  # lost if the page reloads

    assert chart_total(page, "decisions") == 2
    assert page.evaluate("window.dashboardCharts.rejections.data.labels") == ["NOTIONAL-5K"]
    assert chart_total(page, "violations") == 2  # the account and the firm
    assert page.evaluate("window.dashboardCharts.alerts.data.labels") == ["spoofing"]
    expect(page.locator("#tile-kill-switch")).to_have_text("trading")
    expect(page.locator("#tile-violations")).to_have_text("2")
    expect(page.locator("#tile-alerts")).to_have_text("1")
    # Each chart drew on its canvas.
    for canvas in ("chart-decisions", "chart-rejections", "chart-violations", "chart-alerts"):
        width = page.evaluate(f"document.getElementById('{canvas}').width")
        assert width > 0, canvas

    # New flow arrives while the page is open: the chart follows, the page is not reloaded.
    assert api(base, tina, "/api/v1/orders/", order_body("b-3"))["status"] == "accepted"
    page.wait_for_function(
        """() => window.dashboardCharts.decisions.data.datasets
             .flatMap(d => d.data).reduce((a, b) => a + b, 0) >= 3""",
        timeout=20_000,
    )
    assert page.evaluate("window.sameDocument") is True


def test_a_user_without_a_role_gets_403(floor, browser, live_server):
    page = sign_in(browser, live_server.url, "nobody")
    assert page.goto(f"{live_server.url}/dashboard/").status == 403
