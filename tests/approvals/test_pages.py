"""The queue pages through Django's test client: roles, what a decider sees, deciding."""

from decimal import Decimal

import pytest

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.trading.models import Order
from tests.approvals.conftest import ORDERS, order_body
from tests.permissions import assert_page_role_required
from tests.rules.factories import make_rule
from tests.trading.factories import OptionFactory, ReferencePriceFactory


@pytest.fixture
def officer_client(client, make_user):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    return client


def test_every_page_needs_a_compliance_officer(client, make_user, submit_held):
    approval_id = submit_held()["approval"]["id"]
    for url in (
        "/approvals/",
        "/approvals/rows/",
        "/approvals/history/",
        f"/approvals/{approval_id}/",
    ):
        assert_page_role_required(client, make_user, url, Role.COMPLIANCE_OFFICER)


def test_deciding_on_the_page_needs_a_compliance_officer(client, make_user, submit_held):
    approval_id = submit_held()["approval"]["id"]
    for role in (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER):
        client.force_login(make_user(role))
        response = client.post(
            f"/approvals/{approval_id}/", {"decision": "approve", "comment": "ok"}
        )
        assert response.status_code == 403
    assert ApprovalRequest.objects.get(pk=approval_id).status == "pending"


def test_queue_lists_pending_requests_with_a_countdown(officer_client, submit_held):
    held = submit_held()
    page = officer_client.get("/approvals/").content.decode()
    assert f'id="approval-{held["approval"]["id"]}"' in page
    assert 'data-seconds-left="' in page and "vendor/htmx.min.js" in page
    assert 'hx-get="/approvals/rows/"' in page and 'hx-trigger="every 3s"' in page
    rows = officer_client.get("/approvals/rows/").content.decode()
    assert "<html" not in rows and f"approval-{held['approval']['id']}" in rows
    assert "Buy 10 AAPL" in rows and "1,000" in rows


def test_empty_queue_says_so(officer_client, db):
    assert "Nothing is waiting" in officer_client.get("/approvals/rows/").content.decode()


def test_request_page_shows_what_a_decider_needs(officer_client, trader, submit_held):
    make_rule("max_notional", {"max_notional": "2000"})
    # An earlier rejection on the account: shown among its recent alerts.
    trader.post(ORDERS, order_body("big", quantity="100"), format="json")
    held = submit_held()
    page = officer_client.get(f"/approvals/{held['approval']['id']}/").content.decode()
    assert "Buy 10 AAPL" in page and "1,000.00 USD" in page
    assert 'id="position"' in page and "Position now" in page and "Worst case" in page
    # Limits with their use: 1000 of a 2000 cap is 50%, 1000 against the 500 threshold 200%.
    assert "50.0%" in page and "200.0%" in page
    assert "Notional 1000 USD is above the approval threshold 500 USD." in page
    assert "Open surveillance alerts on ACC-T1" in page
    assert "No open surveillance alert on this account." in page
    assert "the gate stopped or warned on" in page and "rejected" in page
    # The decision's history, from the audit trail.
    history = page.split('id="history"')[1]
    assert "Submitted" in history and "Held for approval" in history
    assert 'name="decision" value="approve"' in page and 'name="decision" value="deny"' in page


def test_approving_on_the_page(officer_client, submit_held):
    held = submit_held()
    response = officer_client.post(
        f"/approvals/{held['approval']['id']}/",
        {"decision": "approve", "comment": "Desk head confirmed."},
    )
    assert response.status_code == 302 and response["Location"] == "/approvals/"
    assert Order.objects.get(pk=held["id"]).status == "accepted"
    queue = officer_client.get("/approvals/").content.decode()
    assert f"Order #{held['id']} approved." in queue
    assert f"approval-{held['approval']['id']}" not in queue
    history = officer_client.get("/approvals/history/").content.decode()
    assert "Desk head confirmed." in history


# a NUL character: PostgreSQL cannot store it (it was a 500 there)
@pytest.mark.parametrize("comment", ["", "   ", "x" * 10_240, "fine\x00"])
def test_a_bad_comment_on_the_page_is_400_and_stores_nothing(officer_client, submit_held, comment):
    held = submit_held()
    before = AuditEvent.objects.count()
    response = officer_client.post(
        f"/approvals/{held['approval']['id']}/", {"decision": "deny", "comment": comment}
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert ApprovalRequest.objects.get(pk=held["approval"]["id"]).status == "pending"


def test_an_unknown_decision_is_400(officer_client, submit_held):
    held = submit_held()
    response = officer_client.post(
        f"/approvals/{held['approval']['id']}/", {"decision": "maybe", "comment": "hm"}
    )
    assert response.status_code == 400


def test_the_submitter_sees_no_form_and_cannot_post(client, api_client_for, hold_rule, submit_held):
    submitter = api_client_for(Role.COMPLIANCE_OFFICER)
    held = submit_held(client=submitter)
    client.force_login(submitter.user)
    page = client.get(f"/approvals/{held['approval']['id']}/").content.decode()
    assert "You submitted this order" in page and 'value="approve"' not in page
    response = client.post(
        f"/approvals/{held['approval']['id']}/", {"decision": "approve", "comment": "mine"}
    )
    assert response.status_code == 403
    assert "Four-eyes" in response.content.decode()
    assert Order.objects.get(pk=held["id"]).status == "pending_approval"


def test_unknown_request_page_is_404(officer_client, db):
    assert officer_client.get("/approvals/424242/").status_code == 404


def test_history_filters(officer_client, submit_held, api_client_for):
    officer = api_client_for(Role.COMPLIANCE_OFFICER)
    first, second = submit_held("h-1"), submit_held("h-2")
    officer.post(
        f"/api/v1/approvals/{first['approval']['id']}/deny/", {"comment": "no"}, format="json"
    )
    officer.post(
        f"/api/v1/approvals/{second['approval']['id']}/approve/", {"comment": "yes"}, format="json"
    )
    both = officer_client.get("/approvals/history/").content.decode()
    assert f"#{first['id']} buy" in both and f"#{second['id']} buy" in both
    denied = officer_client.get("/approvals/history/?status=denied").content.decode()
    assert f"#{first['id']} buy" in denied and f"#{second['id']} buy" not in denied
    other = officer_client.get("/approvals/history/?account=NOPE").content.decode()
    assert "match these filters" in other
    bad = officer_client.get("/approvals/history/?date=not-a-date")
    assert bad.status_code == 400 and "date" in bad.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nonsense"},
        {"date": "2026-13-45"},
        {"account": "A" * 10_240},
        {"account": "A\x00B"},
        {"page": "not a number"},
        {"page": str(10**30)},
    ],
)
def test_bad_history_filters_show_the_page(officer_client, submit_held, query):
    submit_held()
    response = officer_client.get("/approvals/history/", query)
    assert response.status_code in (200, 400)  # a filter that cannot be: 400, never a 500
    assert "No decided or expired requests" in response.content.decode()


def test_a_huge_id_page_is_404(officer_client, db):
    assert officer_client.get(f"/approvals/{10**30}/").status_code == 404


def test_a_held_short_sale_shows_its_marking_and_the_short_it_opens(officer_client, submit_held):
    held = submit_held("short-1", side="sell_short_exempt")
    page = officer_client.get(f"/approvals/{held['approval']['id']}/").content.decode()
    assert "Sell short exempt 10 AAPL" in page
    # flat now, short 10 if filled
    assert 'id="position-if-filled">-10 ' in page and 'id="position-now"><strong>0</strong>' in page
    rows = officer_client.get("/approvals/rows/").content.decode()
    assert "Sell short exempt 10 AAPL" in rows


def test_the_queue_shows_an_option_at_its_contract_value(officer_client, submit_held):
    call = OptionFactory(symbol="AAPL-C250")
    ReferencePriceFactory(instrument=call, price=Decimal("12.35"))
    held = submit_held("opt-held", instrument="AAPL-C250", quantity="2213", limit_price="12.35")
    rows = officer_client.get("/approvals/rows/").content.decode()
    assert "2,733,055" in rows  # 2,213 contracts x 12.35 x 100, not 27,331
    page = officer_client.get(f"/approvals/{held['approval']['id']}/").content.decode()
    assert "2,733,055.00 USD" in page


def test_request_page_lists_the_accounts_open_surveillance_alerts(
    officer_client, submit_held, account, instrument
):
    from tests.surveillance.factories import AlertFactory
    from tests.trading.factories import InstrumentFactory

    other = InstrumentFactory(symbol="MSFT")
    warning_here = AlertFactory(account=account, instrument=instrument, title="Rapid orders here")
    critical_elsewhere = AlertFactory(
        account=account, instrument=other, severity="critical", title="Layering in MSFT"
    )
    critical_here = AlertFactory(
        account=account,
        instrument=instrument,
        severity="critical",
        detector="wash_trade",
        title="Wash trade in AAPL",
    )
    AlertFactory(
        account=account,
        instrument=instrument,
        status="closed",
        disposition="false_positive",
        title="Closed one",
    )
    held = submit_held()
    page = officer_client.get(f"/approvals/{held['approval']['id']}/").content.decode()
    section = page.split('id="alerts"')[1].split("</section>")[0]
    assert "Closed one" not in section
    # Critical first, the same instrument first among equals; the same instrument highlighted.
    order = [
        section.index(f'id="surveillance-alert-{a.pk}"')
        for a in (critical_here, critical_elsewhere, warning_here)
    ]
    assert order == sorted(order)
    assert f'class="same-instrument" id="surveillance-alert-{critical_here.pk}"' in section
    assert f'class="" id="surveillance-alert-{critical_elsewhere.pk}"' in section
    assert "Wash trade in AAPL" in section and "Wash trading" in section


def test_the_dashboard_tells_the_decision_at_submission_from_the_status_now(
    client, make_user, officer, submit_held
):
    held = submit_held()
    response = officer.post(
        f"/api/v1/approvals/{held['approval']['id']}/approve/", {"comment": "ok"}, format="json"
    )
    assert response.status_code == 200
    client.force_login(make_user(Role.RISK_MANAGER))
    page = client.get("/").content.decode()
    row = page.split("Latest decisions")[1].split("</tr>")[1]
    decision = row.split('class="decision"')[1].split("</td>")[0]
    now = row.split('class="now"')[1].split("</td>")[0]
    assert "Held for approval" in decision and "Accepted" not in decision
    assert "Approved" in now and "Accepted" in now
