"""The surveillance API: who may read and work alerts, filters, the case over HTTP, bad input
(a 400 that stores nothing, never a 500), and the drop copy feed."""

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role, ServiceRole
from apps.surveillance.models import Alert, AlertNote, ExecutionReport
from apps.surveillance.runner import surveillance_catch_up
from tests.permissions import assert_api_role_required

ALERTS = "/api/v1/surveillance/alerts/"
EXECUTIONS = "/api/v1/surveillance/executions/"


@pytest.fixture
def alerts(desk):
    """A wash trade (critical) and a rapid-fire burst (warning)."""
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a1, "sell", "10")
    for _ in range(61):
        desk.order(desk.b, "buy", "1", "95")
    surveillance_catch_up()
    return {a.detector: a for a in Alert.objects.all()}


@pytest.fixture
def officer(api_client_for):
    return api_client_for(Role.COMPLIANCE_OFFICER)


def drop_copy(**overrides):
    body = {
        "exec_id": "V-100",
        "account": "ACC-T1",
        "instrument": "AAPL",
        "client_order_id": "ghost-9",
        "side": "buy",
        "quantity": "5",
        "price": "100",
        "venue": "XNYS",
        "executed_at": "2026-11-20T15:04:06Z",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_reading_and_working_need_a_compliance_officer(api_client_for, alerts):
    """MAR: no tipping off. A Viewer or Trader (or the feed) reads no alert, case, note or
    drop copy, whatever accounts they are entitled to."""
    alert = alerts["wash_trade"]
    for url in (ALERTS, f"{ALERTS}{alert.pk}/", "/api/v1/surveillance/false-positive-rates/"):
        assert_api_role_required(api_client_for, "get", url, Role.COMPLIANCE_OFFICER)
    assert_api_role_required(api_client_for, "get", EXECUTIONS, Role.COMPLIANCE_OFFICER)
    officer_only = [
        ("assign/", {"assignee": None}),
        ("comment/", {"text": "Looking into it."}),
        ("status/", {"status": "in_review"}),
        ("close/", {"disposition": "duplicate", "comment": "Same as #1."}),
    ]
    for suffix, body in officer_only:
        assert_api_role_required(
            api_client_for, "post", f"{ALERTS}{alert.pk}/{suffix}", Role.COMPLIANCE_OFFICER, body
        )


def test_drop_copies_need_the_feed(api_client_for, desk):
    """Only the Feed service identity posts drop copies: every person's role, Admin included,
    gets 403 (a fake execution would halt an account through surveillance)."""
    assert_api_role_required(api_client_for, "post", EXECUTIONS, ServiceRole.FEED, drop_copy())
    # only the feed's own post was kept: every refused one stored nothing
    assert list(ExecutionReport.objects.values_list("exec_id", flat=True)) == ["V-100"]
    trader = api_client_for(Role.TRADER)
    refused = trader.post(EXECUTIONS, drop_copy(exec_id="FAKE-1"), format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert not ExecutionReport.objects.filter(exec_id="FAKE-1").exists()


def test_the_feed_may_do_nothing_else(api_client_for, alerts):
    feed = api_client_for(ServiceRole.FEED)
    for url in (
        ALERTS,
        EXECUTIONS,
        "/api/v1/orders/",
        "/api/v1/accounts/",
        "/api/v1/positions/",
        "/api/v1/audit/events/",
        "/api/v1/kill-switch/",
    ):
        response = feed.get(url)
        assert response.status_code == 403, (url, response.status_code)


def test_list_filters(api_client_for, alerts):
    viewer = api_client_for(Role.COMPLIANCE_OFFICER)
    everything = viewer.get(ALERTS).json()
    assert everything["count"] == 2
    critical = viewer.get(ALERTS, {"severity": "critical"}).json()["results"]
    assert [a["detector"] for a in critical] == ["wash_trade"]
    by_account = viewer.get(ALERTS, {"account": "ACC-B", "status": "open"}).json()["results"]
    assert [a["detector"] for a in by_account] == ["rapid_fire"]
    assert viewer.get(ALERTS, {"detector": "spoofing"}).json()["count"] == 0
    wash = viewer.get(ALERTS, {"detector": "wash_trade", "instrument": "AAPL"}).json()
    [body] = wash["results"]
    assert body["evidence"]["fills"] and body["evidence"]["orders"]
    assert body["severity"] == "critical" and body["account"] == "ACC-T1"


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "catastrophic"},
        {"detector": "x" * 5000},
        {"created_after": "yesterday"},
        {"account": "\x00"},
        {"page": "-1"},
    ],
)
def test_bad_filters_are_a_400_or_empty_never_a_500(api_client_for, alerts, params):
    response = api_client_for(Role.COMPLIANCE_OFFICER).get(ALERTS, params)
    assert response.status_code in (200, 400, 404), response.status_code
    if response.status_code != 200:
        assert "error" in response.json()


def test_the_case_over_http(officer, api_client_for, alerts):
    alert = alerts["wash_trade"]  # critical: its closure takes two officers
    url = f"{ALERTS}{alert.pk}/"
    body = officer.post(url + "assign/", {"assignee": officer.user.username}, format="json")
    assert body.status_code == 200 and body.json()["assignee"] == officer.user.username
    assert (
        officer.post(url + "comment/", {"text": "Asked the desk."}, format="json").status_code
        == 201
    )
    moved = officer.post(
        url + "status/", {"status": "escalated", "comment": "Repeats."}, format="json"
    )
    assert moved.json()["status"] == "escalated"
    close = {"disposition": "false_positive", "comment": "Two strategies crossed."}
    proposed = officer.post(url + "close/", close, format="json").json()
    assert proposed["status"] == "escalated" and proposed["disposition"] == ""
    assert proposed["closure_proposal"]["proposed_by"] == officer.user.username
    assert proposed["closure_proposal"]["disposition"] == "false_positive"
    # The proposer cannot confirm; a second officer can, with the same disposition.
    own = officer.post(url + "close/", close, format="json")
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes_required"
    second = api_client_for(Role.COMPLIANCE_OFFICER)
    other = second.post(url + "close/", {**close, "disposition": "duplicate"}, format="json")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "closure_disposition_differs"
    closed = second.post(url + "close/", {**close, "comment": "Agreed."}, format="json").json()
    assert closed["status"] == "closed" and closed["disposition"] == "false_positive"
    assert closed["closed_by"] == second.user.username and closed["closure_proposal"] is None
    assert [n["action"] for n in closed["notes"]] == [
        "raised",
        "assigned",
        "comment",
        "escalated",
        "closure_proposed",
        "closed",
    ]
    updates = AuditEvent.objects.filter(event_type="ALERT_UPDATED", object_id=str(alert.pk))
    assert updates.count() == 5
    rates = officer.get("/api/v1/surveillance/false-positive-rates/").json()
    wash = next(r for r in rates if r["detector"] == "wash_trade")
    assert (wash["closed"], wash["false_positive"], wash["rate"]) == (1, 1, "1")
    # closing twice is a conflict; reopening goes to review
    again = officer.post(
        url + "close/", {"disposition": "duplicate", "comment": "x"}, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "alert_closed"
    reopened = officer.post(url + "status/", {"status": "in_review"}, format="json").json()
    assert reopened["status"] == "in_review" and reopened["disposition"] == ""


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("close/", {"disposition": "maybe", "comment": "x"}, "disposition"),
        ("close/", {"disposition": "true_positive", "comment": "  "}, "comment"),
        ("close/", {"disposition": "true_positive"}, "comment"),
        ("close/", {"disposition": "true_positive", "comment": 12}, "comment"),
        ("comment/", {"text": ""}, "text"),
        ("comment/", {"text": "a\x00b"}, "text"),
        ("comment/", {"text": "x" * 5000}, "text"),
        ("assign/", {"assignee": "nobody-here"}, "assignee"),
        ("assign/", {"assignee": ["compliance"]}, "assignee"),
        ("status/", {"status": "closed"}, "status"),
        ("status/", {"status": "solved"}, "status"),
    ],
)
def test_bad_case_input_is_a_400_and_changes_nothing(officer, alerts, suffix, body, field):
    alert = alerts["wash_trade"]
    notes, events = AlertNote.objects.count(), AuditEvent.objects.count()
    response = officer.post(f"{ALERTS}{alert.pk}/{suffix}", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["details"]
    assert (AlertNote.objects.count(), AuditEvent.objects.count()) == (notes, events)
    alert.refresh_from_db()
    assert alert.status == "open" and alert.assignee is None


def test_assigning_to_someone_who_cannot_work_alerts_is_refused(officer, alerts, make_user):
    trader = make_user(Role.TRADER)
    response = officer.post(
        f"{ALERTS}{alerts['wash_trade'].pk}/assign/", {"assignee": trader.username}, format="json"
    )
    assert response.status_code == 400 and "assignee" in response.json()["error"]["details"]


def test_unknown_alert_is_a_404(officer, db):
    response = officer.get(f"{ALERTS}999999/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "alert_not_found"
    response = officer.post(f"{ALERTS}999999/close/", {}, format="json")
    assert response.status_code == 404


def test_a_drop_copy_is_kept_and_reconciled(api_client_for, desk):
    trader = api_client_for(ServiceRole.FEED)
    response = trader.post(EXECUTIONS, drop_copy(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["order"] is None and body["order_status"] == "" and body["reported_total"] == "5"
    assert AuditEvent.objects.filter(event_type="EXECUTION_REPORTED").count() == 1
    again = trader.post(EXECUTIONS, drop_copy(), format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_exec_id"
    surveillance_catch_up()
    [alert] = Alert.objects.all()
    assert alert.detector == "gate_reconciliation" and alert.evidence["executions"] == [body["id"]]


def test_a_drop_copy_of_a_short_sale_keeps_its_marking(api_client_for, desk):
    response = api_client_for(ServiceRole.FEED).post(
        EXECUTIONS, drop_copy(side="sell_short_exempt"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert ExecutionReport.objects.get().side == "sell_short_exempt"


@pytest.mark.parametrize(
    "overrides",
    [
        {"account": "NOPE"},
        {"instrument": "NOPE"},
        {"side": "short"},
        {"quantity": "-5"},
        {"quantity": 5.5},
        {"price": "abc"},
        {"venue": "nyse"},
        {"executed_at": "today"},
        {"exec_id": None},
        {"client_order_id": "x" * 65},
    ],
)
def test_bad_drop_copies_are_a_400_and_store_nothing(api_client_for, desk, overrides):
    feed = api_client_for(ServiceRole.FEED)
    response = feed.post(EXECUTIONS, drop_copy(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert not ExecutionReport.objects.exists()
    assert not AuditEvent.objects.filter(event_type="EXECUTION_REPORTED").exists()


def test_a_proposed_closure_can_be_rejected_over_http(officer, api_client_for, alerts):
    url = f"{ALERTS}{alerts['wash_trade'].pk}/"
    none = officer.post(url + "closure/reject/", {}, format="json")
    assert none.status_code == 409 and none.json()["error"]["code"] == "no_closure_proposed"
    close = {"disposition": "true_positive", "comment": "Same owner both sides."}
    assert officer.post(url + "close/", close, format="json").json()["closure_proposal"]
    assert_api_role_required_post(api_client_for, url + "closure/reject/")
    second = api_client_for(Role.COMPLIANCE_OFFICER)
    body = second.post(url + "closure/reject/", {"comment": "Needs the desk's log."}, format="json")
    assert body.status_code == 200
    assert body.json()["closure_proposal"] is None and body.json()["status"] == "open"
    assert body.json()["notes"][-1]["action"] == "closure_rejected"
    bad = second.post(url + "closure/reject/", {"comment": 12}, format="json")
    assert bad.status_code == 400


def assert_api_role_required_post(api_client_for, url: str) -> None:
    for role in (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER):
        response = api_client_for(role).post(url, {}, format="json")
        assert response.status_code == 403, role
