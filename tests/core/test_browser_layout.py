"""Every page fits a 1024 px screen and a tablet held upright: no horizontal scroll of the page
(wide tables scroll inside their own box), with the demo's data in it.

With DESK_SCREENSHOTS=<directory> set (docs/img), each page is saved there at 1024 px as
`layout-<name>.png` (the home, approval, alert and reports pages).
"""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.approvals.models import ApprovalRequest
from apps.surveillance.models import Alert
from tests.browser import PASSWORD, sign_in

SCREENS = {"1024": (1024, 768), "tablet": (768, 1024)}
SHOWN = {"home", "approval", "alert", "reports"}  # the ones saved as screenshots


@pytest.fixture
def demo_desk(audit_transactional_db):
    call_command("seed_demo", "--no-history", "--password", PASSWORD, stdout=StringIO())
    call_command("simulate_flow", "--orders", "120", "--seed", "7", stdout=StringIO())
    call_command("run_surveillance", stdout=StringIO())
    return {
        "approval": ApprovalRequest.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "alert": Alert.objects.order_by("-pk").values_list("pk", flat=True).first(),
    }


def _pages(ids: dict) -> dict[str, str]:
    pages = {
        "home": "/",
        "orders": "/orders/",
        "compliance-dashboard": "/dashboard/",
        "kill-switch": "/kill-switch/",
        "approvals": "/approvals/",
        "approvals-history": "/approvals/history/",
        "alerts": "/surveillance/alerts/",
        "audit": "/audit/",
        "reports": "/reports/",
        "stors": "/reports/stors/",
    }
    if ids["approval"]:
        pages["approval"] = f"/approvals/{ids['approval']}/"
    if ids["alert"]:
        pages["alert"] = f"/surveillance/alerts/{ids['alert']}/"
    return pages


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_every_page_fits_the_screen_without_horizontal_scroll(
    demo_desk, browser, live_server, screen
):
    width, height = SCREENS[screen]
    base = live_server.url
    page = sign_in(browser, base, "compliance", width=width, height=height)
    too_wide = {}
    for name, path in _pages(demo_desk).items():
        answer = page.goto(f"{base}{path}")
        assert answer.status == 200, (path, answer.status)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 1:
            too_wide[path] = overflow
        folder = os.environ.get("DESK_SCREENSHOTS")
        if folder and screen == "1024" and name in SHOWN:
            page.screenshot(path=str(Path(folder) / f"layout-{name}.png"))
    assert not too_wide, f"pages wider than {width} px (overflow in px): {too_wide}"
