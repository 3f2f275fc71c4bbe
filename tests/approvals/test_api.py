"""The approvals API: roles, four-eyes, decisions, conflicts and bad input."""

from datetime import timedelta

import pytest

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.trading.models import Order
from tests.permissions import assert_api_role_required

LIST = "/api/v1/approvals/"


def url(approval_id: int, action: str = "") -> str:
    return f"{LIST}{approval_id}/" + (f"{action}/" if action else "")


def events(*types: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(event_type__in=types)
        .order_by("seq")
        .values_list("event_type", flat=True)
    )


def test_reading_the_queue_needs_a_compliance_officer(api_client_for, submit_held):
    """As the /approvals/ pages: a Trader follows a held order through the order itself."""
    approval_id = submit_held()["approval"]["id"]
    assert_api_role_required(api_client_for, "get", LIST, Role.COMPLIANCE_OFFICER)
    assert_api_role_required(api_client_for, "get", url(approval_id), Role.COMPLIANCE_OFFICER)


def test_a_trader_sees_the_state_of_a_held_order_through_the_order(api_client_for, submit_held):
    answer = submit_held()
    trader = api_client_for(Role.TRADER)
    assert trader.get(LIST).status_code == 403
    order = trader.get(f"/api/v1/orders/{answer['id']}/").json()
    assert order["status"] == "pending_approval"
    assert order["approval"]["id"] == answer["approval"]["id"]
    assert order["approval"]["status"] == "pending"
    held = [c for c in order["checks"] if c["status"] == "fail" and c["action"] == "hold"]
    assert held, order["checks"]  # the hold reason: the rule that held it, and its message


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_deciding_needs_a_compliance_officer(api_client_for, submit_held, action):
    approval_id = submit_held(f"held-{action}")["approval"]["id"]
    assert_api_role_required(
        api_client_for,
        "post",
        url(approval_id, action),
        Role.COMPLIANCE_OFFICER,
        {"comment": "Within the client's mandate."},
    )


def test_approve_releases_the_order(trader, officer, submit_held):
    answer = submit_held()
    approval_id = answer["approval"]["id"]
    response = officer.post(url(approval_id, "approve"), {"comment": "Mandate ok."}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved" and body["comment"] == "Mandate ok."
    assert body["decided_by"] == officer.user.username and body["decided_at"]
    assert body["order"]["status"] == "accepted" and body["recheck"] == []
    # The client sees it on the order.
    order = trader.get(f"/api/v1/orders/{answer['id']}/").json()
    assert order["status"] == "accepted"
    assert order["approval"] == {**order["approval"], "id": approval_id, "status": "approved"}
    assert events("APPROVAL_REQUESTED", "APPROVAL_GRANTED", "ORDER_ACCEPTED") == [
        "APPROVAL_REQUESTED",
        "ORDER_ACCEPTED",
        "APPROVAL_GRANTED",
    ]
    granted = AuditEvent.objects.get(event_type="APPROVAL_GRANTED")
    assert granted.actor == officer.user.username and '"Mandate ok."' in granted.record


def test_deny_rejects_the_order(officer, submit_held):
    answer = submit_held()
    response = officer.post(
        url(answer["approval"]["id"], "deny"), {"comment": "Too large."}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "denied"
    assert Order.objects.get(pk=answer["id"]).status == "rejected"
    assert events("APPROVAL_DENIED") == ["APPROVAL_DENIED"]


def test_the_submitter_cannot_decide_their_own_order(api_client_for, hold_rule, submit_held):
    submitter = api_client_for(Role.COMPLIANCE_OFFICER)
    answer = submit_held(client=submitter)
    for action in ("approve", "deny"):
        response = submitter.post(
            url(answer["approval"]["id"], action), {"comment": "Mine."}, format="json"
        )
        assert response.status_code == 403, response.json()
        assert response.json()["error"]["code"] == "four_eyes_required"
    assert ApprovalRequest.objects.get(pk=answer["approval"]["id"]).status == "pending"
    assert Order.objects.get(pk=answer["id"]).status == "pending_approval"
    assert events("APPROVAL_GRANTED", "APPROVAL_DENIED") == []


def test_unknown_request_is_404(officer, db):
    for response in (
        officer.get(url(999999)),
        officer.post(url(999999, "approve"), {"comment": "x"}, format="json"),
        officer.post(url(999999, "deny"), {"comment": "x"}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "approval_not_found"


def test_deciding_twice_is_a_conflict_with_the_reason(api_client_for, officer, submit_held):
    approval_id = submit_held()["approval"]["id"]
    first = officer.post(url(approval_id, "approve"), {"comment": "ok"}, format="json")
    assert first.status_code == 200
    other = api_client_for(Role.COMPLIANCE_OFFICER)
    for action in ("deny", "approve"):
        response = other.post(url(approval_id, action), {"comment": "no"}, format="json")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "approval_not_pending"
        assert error["details"]["status"] == "approved"
        assert error["details"]["decided_by"] == officer.user.username
        assert "already approved" in error["message"]


def test_an_expired_request_is_a_conflict_and_expires_the_order(officer, submit_held):
    answer = submit_held()
    ApprovalRequest.objects.filter(pk=answer["approval"]["id"]).update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    response = officer.post(
        url(answer["approval"]["id"], "approve"), {"comment": "late"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["status"] == "expired"
    assert Order.objects.get(pk=answer["id"]).status == "expired"
    assert events("APPROVAL_EXPIRED", "APPROVAL_GRANTED") == ["APPROVAL_EXPIRED"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"comment": ""},
        {"comment": "   "},
        {"comment": None},
        {"comment": 123},
        {"comment": ["ok"]},
        {"comment": {"text": "ok"}},
        {"comment": "x" * 10_240},
        ["comment"],
        "comment",
    ],
)
def test_bad_input_is_400_and_stores_nothing(officer, submit_held, payload):
    answer = submit_held()
    before = AuditEvent.objects.count()
    response = officer.post(url(answer["approval"]["id"], "approve"), payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert AuditEvent.objects.count() == before
    approval = ApprovalRequest.objects.get(pk=answer["approval"]["id"])
    assert approval.status == "pending" and approval.comment == ""
    assert Order.objects.get(pk=answer["id"]).status == "pending_approval"


def test_malformed_json_is_400(officer, submit_held):
    answer = submit_held()
    response = officer.post(
        url(answer["approval"]["id"], "deny"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_list_filters_by_status_and_account(officer, submit_held, api_client_for):
    first = submit_held("held-a")
    submit_held("held-b")
    officer.post(url(first["approval"]["id"], "deny"), {"comment": "no"}, format="json")
    viewer = api_client_for(Role.COMPLIANCE_OFFICER)
    everything = viewer.get(LIST).json()
    assert everything["count"] == 2
    pending = viewer.get(LIST, {"status": "pending"}).json()["results"]
    assert [a["order"]["client_order_id"] for a in pending] == ["held-b"]
    denied = viewer.get(LIST, {"status": "denied", "account": "ACC-T1"}).json()["results"]
    assert [a["id"] for a in denied] == [first["approval"]["id"]]
    assert viewer.get(LIST, {"account": "NOPE"}).json()["count"] == 0
    assert viewer.get(LIST, {"status": "bogus"}).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nonsense"},
        {"date": "2026-13-45"},
        {"date": "not a date"},
        {"requested_after": "yesterday"},
        {"account": "A\x00B"},
    ],
)
def test_a_bad_filter_is_400(api_client_for, submit_held, query):
    submit_held()
    response = api_client_for(Role.COMPLIANCE_OFFICER).get(LIST, query)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"


def test_a_huge_filter_value_finds_nothing(api_client_for, submit_held):
    submit_held()
    viewer = api_client_for(Role.COMPLIANCE_OFFICER)
    for field in ("account", "instrument"):
        response = viewer.get(LIST, {field: "A" * 10_240})
        assert response.status_code == 200 and response.json()["count"] == 0


def test_a_huge_id_is_404(officer, db):
    for path in (url(10**30), url(10**30, "approve")):
        method = officer.post if path.endswith("approve/") else officer.get
        response = method(path, {"comment": "ok"}, format="json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] in ("approval_not_found", "not_found")
