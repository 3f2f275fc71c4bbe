"""The gate through the API: decisions, explanations, idempotency, bad input, fail closed."""

import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.core.time import rfc3339, utcnow
from apps.killswitch.models import KillSwitch
from apps.rbac.roles import Role
from apps.rules import gate
from apps.trading.models import Order
from tests.permissions import assert_api_role_required
from tests.rules.factories import make_rule, order_body

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def test_order_endpoints_need_their_roles(api_client_for, account, instrument):
    assert_api_role_required(api_client_for, "get", URL, Role.VIEWER)
    assert_api_role_required(api_client_for, "post", URL, Role.TRADER, order_body())
    assert_api_role_required(
        api_client_for,
        "post",
        "/api/v1/pretrade/check/",
        Role.TRADER,
        order_body(client_order_id="dry"),
    )


def test_accepted_with_every_rule_explained(trader):
    make_rule("max_notional", {"max_notional": "5000"}, regulation="SEC 15c3-5(c)(1)(i)")
    make_rule("order_size", {"max_quantity": "1000"})
    response = trader.post(URL, order_body(), format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["status"] == "accepted" and answer["approval"] is None
    by_type = {c["rule_type"]: c for c in answer["checks"]}
    assert by_type["max_notional"] == {
        **by_type["max_notional"],
        "status": "pass",
        "observed": "1000",
        "threshold": "5000",
        "regulation": "SEC 15c3-5(c)(1)(i)",
    }
    order = Order.objects.get(pk=answer["id"])
    assert order.status == "accepted" and len(order.checks) == 2
    submitted = AuditEvent.objects.filter(event_type="ORDER_SUBMITTED").last()
    assert '"checks"' in submitted.record


def test_rejected_names_the_rule_and_evaluates_all(trader):
    make_rule("max_notional", {"max_notional": "500"})
    make_rule("order_size", {"max_quantity": "5"})
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "rejected"
    failing = {c["rule_type"] for c in answer["checks"] if c["status"] == "fail"}
    assert failing == {"max_notional", "order_size"}
    assert Order.objects.get(pk=answer["id"]).status == "rejected"


def test_hold_creates_an_approval_request(trader):
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 120}, action="hold")
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "pending_approval"
    approval = ApprovalRequest.objects.get(order_id=answer["id"])
    assert answer["approval"]["id"] == approval.pk
    assert (approval.expires_at - approval.requested_at).total_seconds() == 120


def test_reject_wins_over_hold(trader):
    make_rule("approval_threshold", {"notional": "500"}, action="hold")
    make_rule("max_notional", {"max_notional": "500"})
    assert trader.post(URL, order_body(), format="json").json()["status"] == "rejected"


def test_shadow_and_warn_rules_never_block(trader):
    make_rule("max_notional", {"max_notional": "1"}, status="testing")
    make_rule("order_size", {"max_quantity": "1"}, action="warn")
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "accepted"
    statuses = {c["rule_type"]: (c["status"], c.get("shadow", False)) for c in answer["checks"]}
    assert statuses == {"max_notional": ("warn", True), "order_size": ("warn", False)}


def test_inactive_draft_and_out_of_scope_rules_do_not_apply(trader):
    make_rule("max_notional", {"max_notional": "1"}, status="draft")
    make_rule("max_notional", {"max_notional": "1"}, status="inactive")
    make_rule("max_notional", {"max_notional": "1"}, scope="account", scope_value="OTHER")
    make_rule("max_notional", {"max_notional": "1"}, scope="sector", scope_value="Energy")
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "accepted" and answer["checks"] == []


def test_a_rule_that_raises_rejects(trader, monkeypatch):
    from apps.rules.checks import max_notional

    make_rule("max_notional", {"max_notional": "5000"})

    def boom(params, ctx):
        raise ZeroDivisionError

    monkeypatch.setattr(max_notional, "evaluate", boom)
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "rejected"
    assert answer["checks"][0]["code"] == "rule_error"


def test_a_broken_stored_rule_rejects(trader):
    make_rule("max_notional", {"max_notional": "lots"})
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "rejected" and answer["checks"][0]["code"] == "rule_error"


def test_same_id_and_body_replays_the_first_answer(trader):
    make_rule("max_notional", {"max_notional": "5000"})
    first = trader.post(URL, order_body(), format="json")
    again = trader.post(URL, order_body(quantity="10.0"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_same_id_with_another_body_is_409(trader):
    trader.post(URL, order_body(), format="json")
    response = trader.post(URL, order_body(quantity="11"), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "client_order_id_reused"
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": "0"},
        {"quantity": "-5"},
        {"quantity": "abc"},
        {"quantity": "NaN"},
        {"quantity": 1.5},
        {"quantity": "1e30"},
        {"quantity": None},
        {"limit_price": None},
        {"account": "NOPE"},
        {"instrument": "NOPE"},
        {"side": "short"},
        {"order_type": "stop"},
        {"client_order_id": "x" * 10_000},
        {"client_order_id": "has space"},
        {"metadata": "not an object"},
        {"metadata": {"risk_score": 0.42}},
        {"metadata": {"note": "a\u0000b"}},
        {"metadata": {"a\u0000": "key"}},
        {"quantity": ["10"]},
        {"time_in_force": 3},
        {"order_type": "market"},
    ],
)
def test_bad_input_is_400_and_stores_nothing(trader, bad):
    events = AuditEvent.objects.count()
    response = trader.post(
        URL,
        order_body(**bad)
        if "client_order_id" not in bad or bad["client_order_id"]
        else order_body(),
        format="json",
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert Order.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_not_json_is_400(trader):
    response = trader.post(URL, "{", content_type="application/json")
    assert response.status_code == 400
    response = trader.post(URL, [1, 2], format="json")
    assert response.status_code == 400


def test_dry_run_stores_nothing(trader):
    make_rule("max_notional", {"max_notional": "500"})
    events = AuditEvent.objects.count()
    answer = trader.post("/api/v1/pretrade/check/", order_body(), format="json").json()
    assert answer["status"] == "rejected" and answer["id"] is None
    assert Order.objects.count() == 0 and AuditEvent.objects.count() == events


def test_isin_is_accepted_for_the_instrument(trader):
    assert trader.post(URL, order_body(instrument="US0378331005"), format="json").status_code == 201


def test_halted_kill_switch_rejects_new_orders(trader, make_user):
    KillSwitch.objects.create(
        scope="firm",
        state="halted",
        reason="runaway algo",
        activated_by=make_user(Role.RISK_MANAGER),
        activated_at="2026-01-01T00:00:00Z",
    )
    answer = trader.post(URL, order_body(), format="json").json()
    assert answer["status"] == "rejected"
    assert answer["checks"][0]["rule"] == "KILL-SWITCH"


def test_fill_cancel_and_amend(trader):
    make_rule("max_notional", {"max_notional": "5000"})
    order_id = trader.post(URL, order_body(quantity="20"), format="json").json()["id"]
    fill = trader.post(
        f"{URL}{order_id}/fills/",
        {
            "exec_id": "e-1",
            "quantity": "5",
            "price": "99.5",
            "venue": "XNAS",
            "executed_at": rfc3339(utcnow()),
            "liquidity": "removed",
        },
        format="json",
    )
    assert fill.status_code == 201, fill.json()
    assert fill.json()["order"]["status"] == "partially_filled"
    assert fill.json()["position"]["quantity"] == "5"
    # amend above the notional limit is refused and changes nothing
    amend = trader.post(f"{URL}{order_id}/amend/", {"quantity": "80"}, format="json").json()
    assert amend["amended"] is False and amend["decision"] == "rejected"
    assert amend["order"]["quantity"] == "20"
    amend = trader.post(f"{URL}{order_id}/amend/", {"quantity": "30"}, format="json").json()
    assert amend["amended"] is True and amend["order"]["quantity"] == "30"
    cancel = trader.post(f"{URL}{order_id}/cancel/")
    assert cancel.json()["status"] == "canceled"
    again = trader.post(f"{URL}{order_id}/cancel/")
    assert again.status_code == 409


def test_fill_larger_than_the_rest_is_400(trader):
    order_id = trader.post(URL, order_body(), format="json").json()["id"]
    response = trader.post(
        f"{URL}{order_id}/fills/",
        {
            "exec_id": "e-1",
            "quantity": "11",
            "price": "99.5",
            "venue": "XNAS",
            "executed_at": rfc3339(utcnow()),
            "liquidity": "removed",
        },
        format="json",
    )
    assert response.status_code == 400
    assert trader.post(f"{URL}999999/fills/", {}, format="json").status_code == 404


def test_list_and_detail(api_client_for, trader):
    order_id = trader.post(URL, order_body(), format="json").json()["id"]
    viewer = api_client_for(Role.VIEWER)
    listed = viewer.get(f"{URL}?account=ACC-T1&status=accepted").json()
    assert [o["id"] for o in listed["results"]] == [order_id]
    detail = viewer.get(f"{URL}{order_id}/").json()
    assert detail["quantity"] == "10" and detail["limit_price"] == "100"
    assert viewer.get(f"{URL}424242/").status_code == 404


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_two_orders_that_fit_only_one_at_a_time_cannot_both_pass(
        audit_transactional_db, make_user
    ):
        from rest_framework.test import APIClient

        from apps.rbac.services import api_token_issue
        from tests.trading.factories import (
            AccountFactory,
            InstrumentFactory,
            ReferencePriceFactory,
        )

        AccountFactory(code="ACC-T1", credit_limit=Decimal("1500"))
        instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
        ReferencePriceFactory(instrument=instrument)
        make_rule("credit_limit", {})
        make_rule("position_limit", {"max_quantity": "15"})
        users = [make_user(Role.TRADER) for _ in range(8)]
        barrier = threading.Barrier(8)
        answers = []

        def submit(n: int) -> None:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=users[n])[1]}")
            barrier.wait()
            try:
                answers.append(
                    client.post(URL, order_body(client_order_id=f"c-{n}"), format="json").json()[
                        "status"
                    ]
                )
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == ["accepted"] + ["rejected"] * 7


def test_order_actions_need_their_roles(api_client_for, trader):
    order_id = trader.post(URL, order_body(quantity="50"), format="json").json()["id"]
    assert_api_role_required(api_client_for, "get", f"{URL}{order_id}/", Role.VIEWER)
    fill = {
        "exec_id": "r-1",
        "quantity": "1",
        "price": "100",
        "venue": "XNAS",
        "executed_at": rfc3339(utcnow()),
        "liquidity": "added",
    }
    assert_api_role_required(api_client_for, "post", f"{URL}{order_id}/fills/", Role.TRADER, fill)
    assert_api_role_required(
        api_client_for, "post", f"{URL}{order_id}/amend/", Role.TRADER, {"quantity": "40"}
    )
    assert_api_role_required(api_client_for, "post", f"{URL}{order_id}/cancel/", Role.TRADER)


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": "1000000000", "limit_price": "1000000000"},
        {"quantity": "1000000000000000", "limit_price": "1000000000000000"},
    ],
)
def test_a_notional_out_of_range_is_400_and_leaves_the_account_usable(trader, bad):
    response = trader.post(URL, order_body(**bad), format="json")
    assert response.status_code == 400
    assert "quantity" in response.json()["error"]["details"]
    assert trader.post(URL, order_body(client_order_id="next"), format="json").json()["status"] == (
        "accepted"
    )


def test_deeply_nested_json_is_400(trader):
    nested = "[" * 100_000 + "]" * 100_000
    raw = '{"client_order_id": "n", "metadata": {"x": ' + nested + "}}"
    response = trader.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_a_refused_amendment_is_recorded_with_its_checks(trader):
    make_rule("order_size", {"max_quantity": "50"})
    order_id = trader.post(URL, order_body(), format="json").json()["id"]
    answer = trader.post(f"{URL}{order_id}/amend/", {"quantity": "60"}, format="json").json()
    assert answer["amended"] is False
    event = AuditEvent.objects.filter(event_type="ORDER_AMENDED").last()
    assert '"amended":false' in event.record and '"order_size"' in event.record


def test_final_and_held_orders_cannot_be_amended(trader):
    make_rule("approval_threshold", {"notional": "5000"}, action="hold")
    held = trader.post(URL, order_body(client_order_id="h", quantity="60"), format="json").json()
    assert held["status"] == "pending_approval"
    response = trader.post(f"{URL}{held['id']}/amend/", {"quantity": "1"}, format="json")
    assert response.status_code == 409
    done = trader.post(URL, order_body(client_order_id="d"), format="json").json()["id"]
    trader.post(f"{URL}{done}/cancel/")
    response = trader.post(f"{URL}{done}/amend/", {"quantity": "5"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_not_amendable"


def test_a_replay_after_a_fill_returns_the_first_answer(trader):
    first = trader.post(URL, order_body(), format="json").json()
    trader.post(
        f"{URL}{first['id']}/fills/",
        {
            "exec_id": "e-9",
            "quantity": "10",
            "price": "100",
            "venue": "XNAS",
            "executed_at": rfc3339(utcnow()),
            "liquidity": "removed",
        },
        format="json",
    )
    again = trader.post(URL, order_body(), format="json")
    assert again.status_code == 200
    assert again.json()["status"] == "accepted"


def test_a_database_error_while_recording_is_503_and_stores_nothing(trader, monkeypatch):
    from django.db import OperationalError

    from apps.rules import gate

    def broken(**kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(gate, "order_record", broken)
    response = trader.post(URL, order_body(), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert not Order.objects.exists()


def test_a_stored_order_as_a_request(trader):
    """Amendments, the approval re-check and replay judge a stored order through one
    constructor: its own figures, or the amended ones where given."""
    answer = trader.post(URL, order_body("stored"), format="json").json()
    order = Order.objects.select_related("account", "instrument").get(pk=answer["id"])
    req = gate.OrderRequest.from_order(order)
    assert (req.account, req.instrument, req.client_order_id, req.side, req.order_type) == (
        order.account,
        order.instrument,
        "stored",
        "buy",
        "limit",
    )
    assert (req.quantity, req.limit_price, req.metadata) == (10, 100, {"signal_id": "s1"})
    assert req.time_in_force == "day" and req.body == {} and req.order is order
    assert gate.order_intent(req, None).order_id == order.pk
    amended = gate.OrderRequest.from_order(order, quantity=Decimal("5"))
    assert (amended.quantity, amended.limit_price) == (5, 100)


def test_a_stored_order_is_left_out_of_its_own_exposure_and_when_held_of_its_counts(trader):
    answer = trader.post(URL, order_body("own"), format="json").json()
    order = Order.objects.select_related("account", "instrument").get(pk=answer["id"])
    req = gate.OrderRequest.from_order(order)

    def context(**own):
        return gate.build_context(
            gate.order_intent(req, None),
            account=order.account,
            user=None,
            types=frozenset({"order_rate"}),
            **own,
        )

    new = context()  # as if it were sent again: it is working and counted
    assert (new.working_buy, new.orders_last_minute, new.today_orders) == (10, 1, 1)
    amended = context(own=order)  # an amendment replaces its open quantity; it is one message more
    assert (amended.working_buy, amended.orders_last_minute, amended.today_orders) == (0, 1, 1)
    held = context(own=order, own_counted=True)  # the re-check: the order it was, not one more
    assert (held.working_buy, held.orders_last_minute, held.today_orders) == (0, 0, 0)
