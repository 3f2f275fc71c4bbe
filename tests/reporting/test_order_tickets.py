"""Order tickets (SEC 17a-3(a)(6)) on a known day of flow through the gate, the approval queue
and the order API: every order entered today, whatever became of it, checked against the
stored orders, their approvals, fills and audit trail."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from apps.core.time import rfc3339, utcnow
from apps.rbac.roles import Role
from apps.reporting.models import RegulatoryReport
from apps.trading.models import Fill, Order
from tests.permissions import assert_api_role_required
from tests.reporting.helpers import content, csv_rows
from tests.rules.factories import make_rule, order_body, report_fill

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/orders/"
REPORTS = "/api/v1/reports/"


@pytest.fixture
def flow(db, account, instrument, api_client_for):
    """Today: six orders on ACC-T1 in AAPL (reference price 100).

    o1 accepted (notional 300), amended to 4, then filled 2; o2 held (1000 is over the hold
    threshold of 500), approved, filled 10; o3 held and denied; o4 accepted, canceled; o5
    rejected by the max notional of 2000; o6 accepted, discretionary, and an amendment to 30
    refused by the gate (it stays as it was)."""
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 300}, action="hold")
    max_rule = make_rule("max_notional", {"max_notional": "2000"}, code="MAXN-T")
    trader = api_client_for(Role.TRADER)
    officer = api_client_for(Role.COMPLIANCE_OFFICER)

    def submit(cid: str, quantity: str, **extra) -> dict:
        response = trader.post(ORDERS, order_body(cid, quantity=quantity, **extra), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    o1 = submit("t-1", "3")
    amended = trader.post(f"{ORDERS}{o1['id']}/amend/", {"quantity": "4"}, format="json")
    assert amended.json()["amended"] is True
    report_fill(trader, o1["id"], quantity="2")
    o2 = submit("t-2", "10")
    officer.post(f"/api/v1/approvals/{o2['approval']['id']}/approve/", {"comment": "ok"},
                 format="json")  # fmt: skip
    report_fill(trader, o2["id"], quantity="10")
    o3 = submit("t-3", "10")
    officer.post(f"/api/v1/approvals/{o3['approval']['id']}/deny/", {"comment": "no"},
                 format="json")  # fmt: skip
    o4 = submit("t-4", "2")
    assert trader.post(f"{ORDERS}{o4['id']}/cancel/").status_code == 200
    o5 = submit("t-5", "30")
    assert o5["status"] == "rejected"
    o6 = submit("t-6", "1", metadata={"signal_id": "s6", "discretionary": True})
    refused = trader.post(f"{ORDERS}{o6['id']}/amend/", {"quantity": "30"}, format="json")
    assert refused.json()["amended"] is False
    ids = [o["id"] for o in (o1, o2, o3, o4, o5, o6)]
    return {"trader": trader, "officer": officer, "ids": ids, "max_rule": max_rule}


def tickets(flow, fmt="csv") -> dict:
    response = flow["officer"].post(
        REPORTS,
        {
            "report_type": "order_tickets",
            "period_start": str(utcnow().date()),
            "period_end": str(utcnow().date()),
            "format": fmt,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_one_ticket_per_order_of_the_day_against_the_stored_orders(flow):
    made = tickets(flow)
    report = RegulatoryReport.objects.get(pk=made["id"])
    rows = csv_rows(report, flow["officer"].user)
    assert made["record_count"] == len(rows) == Order.objects.count() == 6
    assert [int(r["order_id"]) for r in rows] == flow["ids"]  # in entry order
    trader = flow["trader"].user.username
    approver = flow["officer"].user.username
    for row in rows:
        order = Order.objects.get(pk=row["order_id"])
        assert row["client_order_id"] == order.client_order_id
        assert row["entered_at"] == rfc3339(order.created_at)
        assert row["entered_by"] == trader
        assert row["account"] == "ACC-T1" and row["symbol"] == "AAPL"
        assert row["buy_sell"] == "buy" and row["order_type"] == "limit"
        assert Decimal(row["quantity"]) == order.quantity
        assert row["limit_price"] == "100" and row["time_in_force"] == "day"
        assert row["capacity"] == "principal"  # ACC-T1 trades for the firm's own book (DEAL)
        assert row["status"] == order.status
        assert int(row["checks_run"]) == len(order.checks) > 0
        fills = Fill.objects.filter(order=order).order_by("executed_at")
        assert int(row["executions"]) == fills.count()
        if fills:
            assert row["first_execution_at"] == rfc3339(fills.first().executed_at)
            assert row["last_execution_at"] == rfc3339(fills.last().executed_at)
        else:
            assert row["first_execution_at"] == row["last_execution_at"] == ""
    o1, o2, o3, o4, o5, o6 = rows
    assert o1["gate_decision"] == "accepted" and o1["status"] == "partially_filled"
    assert o1["quantity"] == "4" and o1["amendments"] == "1" and o1["last_modified_at"]
    assert o1["filled_quantity"] == "2" and o1["approval_status"] == ""
    assert o2["gate_decision"] == "pending_approval" and o2["approval_status"] == "approved"
    assert o2["approval_decided_by"] == approver and o2["approval_decided_at"]
    assert o2["status"] == "filled" and o2["executions"] == "1"
    assert "=warn" in o2["checks_not_passed"] or "=fail" in o2["checks_not_passed"]
    assert o3["gate_decision"] == "pending_approval" and o3["approval_status"] == "denied"
    assert o3["approval_decided_by"] == approver and o3["status"] == "rejected"
    assert o4["status"] == "canceled" and o4["canceled_at"] and o4["canceled_by"] == trader
    assert o4["gate_decision"] == "accepted" and o4["executions"] == "0"
    assert o5["gate_decision"] == "rejected" and o5["status"] == "rejected"
    assert f"{flow['max_rule'].code}=fail" in o5["checks_not_passed"]
    assert o6["discretionary"] == "true" and o1["discretionary"] == "false"
    assert o6["amendments"] == "0" and o6["amendments_refused"] == "1"
    assert o6["quantity"] == "1" and o6["last_modified_at"] == ""
    for row in (o1, o2, o3, o5, o6):
        assert row["canceled_at"] == ""


def test_the_pdf_lists_every_ticket(flow):
    made = tickets(flow, "pdf")
    report = RegulatoryReport.objects.get(pk=made["id"])
    data = content(report, flow["officer"].user)
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )
    assert "Complete: every one of the 6 order tickets is listed" in text
    assert "Gate: pending_approval 2" in text and "Gate: rejected 1" in text
    listing = text.split("All 6 order tickets", 1)[1]
    for order_id in flow["ids"]:
        assert f" {order_id} " in listing


def test_reading_needs_a_risk_manager_and_generating_a_compliance_officer(api_client_for, flow):
    body = {
        "report_type": "order_tickets",
        "period_start": str(utcnow().date()),
        "period_end": str(utcnow().date()),
        "format": "csv",
    }
    assert_api_role_required(api_client_for, "post", REPORTS, Role.COMPLIANCE_OFFICER, body)
    made = tickets(flow)
    download = f"{REPORTS}{made['id']}/download/"
    assert_api_role_required(api_client_for, "get", download, Role.RISK_MANAGER)
    response = api_client_for(Role.RISK_MANAGER).get(download)
    assert response["X-Content-SHA256"] == made["sha256"]


def test_the_queries_do_not_grow_with_the_orders(flow, django_assert_max_num_queries):
    from apps.reporting.builders import BUILDERS, Period

    today = utcnow().date()
    for report_type in ("order_tickets", "blotter"):
        builder = BUILDERS[report_type](period=Period(today, today), generated_at=utcnow())
        # the orders (or fills) in one chunk, then the chunk's audit events and fills
        with django_assert_max_num_queries(3):
            rows = list(builder.rows())
        assert len(rows) == (6 if report_type == "order_tickets" else 2)
