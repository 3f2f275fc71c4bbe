"""What-if replay: past orders against the current rules plus the proposed ones."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.rules.models import ComplianceRule
from apps.rules.replay import replay
from apps.rules.services import rule_change_decide, rule_change_propose
from apps.trading.models import Order
from tests.rules.factories import make_rule

URL = "/api/v1/orders/"


@pytest.fixture
def officer_a(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_a")


@pytest.fixture
def officer_b(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_b")


@pytest.fixture
def history(api_client_for, account, instrument):
    """Orders sent through the gate with no rules: notionals 100, 1000, 2000, 5000 and a sell
    of 3000. Returns {notional: order id}."""
    client = api_client_for(Role.TRADER)
    ids = {}
    for n, (side, quantity) in enumerate(
        [("buy", "1"), ("buy", "10"), ("buy", "20"), ("buy", "50"), ("sell", "30")]
    ):
        answer = client.post(
            URL,
            {
                "client_order_id": f"h-{n}",
                "account": "ACC-T1",
                "instrument": "AAPL",
                "side": side,
                "order_type": "limit",
                "quantity": quantity,
                "limit_price": "100",
                "time_in_force": "day",
                "metadata": {},
            },
            format="json",
        ).json()
        assert answer["status"] == "accepted"
        ids[int(quantity) * 100] = answer["id"]
    return ids


def propose(officer, code: str, rule_type: str, params: dict, **fields):
    return rule_change_propose(
        kind="create",
        actor=officer,
        fields={
            "code": code,
            "name": code,
            "rule_type": rule_type,
            "parameters": params,
            "regulation": "SEC 15c3-5",
            **fields,
        },
    )


def today_report(**kwargs):
    today = utcnow().date()
    return replay(date_from=today, date_to=today, **kwargs)


def test_a_proposed_rule_names_the_orders_it_would_reject(history, officer_a):
    propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"})
    orders, events = Order.objects.count(), AuditEvent.objects.count()

    report = today_report()

    assert report.rules == ["MAXN-1500"] and report.active_rules == 0
    assert len(report.rows) == 5
    assert {r.order_id for r in report.newly_rejected} == {
        history[2000],
        history[5000],
        history[3000],
    }
    assert report.newly_held == [] and report.newly_passing == []
    assert report.by_rule == {
        "MAXN-1500": {
            "rejected": [history[2000], history[5000], history[3000]],
            "held": [],
            "passing": [],
        }
    }
    assert report.totals == {
        "orders": 5,
        "newly_rejected": 3,
        "newly_held": 0,
        "newly_passing": 0,
        "errors": 0,
        "drifted": 0,
    }
    row = next(r for r in report.rows if r.order_id == history[5000])
    assert (row.recorded, row.replayed, row.rejecting) == ("accepted", "rejected", ("MAXN-1500",))
    # a replay stores nothing
    assert Order.objects.count() == orders and AuditEvent.objects.count() == events


def test_hold_rules_and_scopes(history, officer_a):
    propose(
        officer_a,
        "HOLD-2500",
        "approval_threshold",
        {"notional": "2500"},
        action="hold",
    )
    propose(
        officer_a,
        "MAXN-OTHER",
        "max_notional",
        {"max_notional": "1"},
        scope="account",
        scope_value="ACC-OTHER",
    )
    report = today_report()
    assert {r.order_id for r in report.newly_held} == {history[5000], history[3000]}
    assert report.newly_rejected == []
    assert report.by_rule["HOLD-2500"]["held"] == [history[5000], history[3000]]
    assert "MAXN-OTHER" not in report.by_rule


def test_only_the_rules_asked_for(history, officer_a):
    propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"})
    other = propose(officer_a, "MAXN-4000", "max_notional", {"max_notional": "4000"}).rule
    report = today_report(rules=[other])
    assert report.rules == ["MAXN-4000"]
    assert [r.order_id for r in report.newly_rejected] == [history[5000]]


def test_testing_rules_are_replayed_as_live_unless_excluded(history):
    make_rule("max_notional", {"max_notional": "2500"}, status="testing", code="SHADOW-1")
    assert {r.order_id for r in today_report().newly_rejected} == {history[5000], history[3000]}
    assert today_report(include_testing=False).newly_rejected == []


def test_current_active_rules_count_and_a_pending_edit_replaces_the_rule(
    history, officer_a, officer_b, api_client_for
):
    change = propose(officer_a, "MAXN", "max_notional", {"max_notional": "1500"})
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="ok")
    rule = ComplianceRule.objects.get(code="MAXN")
    # Recorded before the rule: accepted. The active rule alone now rejects three of them: that
    # is not a proposal's effect (there is none), so nothing is newly rejected; it is drift.
    report = today_report()
    assert report.newly_rejected == [] and report.totals["drifted"] == 3
    assert {r.order_id for r in report.drifted} == {history[2000], history[5000], history[3000]}
    # A pending edit raising the limit: replayed with the proposed limit against the current
    # one, it lets two orders through that the rule stops today.
    rule_change_propose(
        kind="edit", actor=officer_b, rule=rule, fields={"parameters": {"max_notional": "4000"}}
    )
    report = today_report()
    assert report.rules == ["MAXN"] and report.active_rules == 0
    assert report.newly_rejected == []
    assert {r.order_id for r in report.newly_passing} == {history[2000], history[3000]}
    assert report.by_rule == {
        "MAXN": {"rejected": [], "held": [], "passing": [history[2000], history[3000]]}
    }


def test_each_change_is_the_proposed_rules_alone_not_the_active_rules_rejudging(
    history, officer_a, officer_b
):
    """An active rule that came after the orders re-judges one of them today; the proposal is
    credited only with what it changes against today's active rules."""
    change = propose(officer_a, "MAXN-4000", "max_notional", {"max_notional": "4000"})
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="ok")
    propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"})

    report = today_report()

    assert report.rules == ["MAXN-1500"] and report.active_rules == 1
    assert {r.order_id for r in report.newly_rejected} == {history[2000], history[3000]}
    assert report.by_rule == {
        "MAXN-1500": {"rejected": [history[2000], history[3000]], "held": [], "passing": []}
    }
    assert [r.order_id for r in report.drifted] == [history[5000]]
    row = next(r for r in report.rows if r.order_id == history[5000])
    assert (row.recorded, row.baseline, row.replayed, row.changed) == (
        "accepted",
        "rejected",
        "rejected",
        False,
    )
    summary = report.summary()
    assert "the proposal makes 2 newly rejected" in summary
    assert "active rules alone would decide 1 of these orders differently" in summary
    out = StringIO()
    today = str(utcnow().date())
    call_command("replay_rules", "--from", today, "--to", today, stdout=out)
    assert "Newly rejected:   2" in out.getvalue()
    assert "Decided differently today by the active rules alone: 1" in out.getvalue()


def test_a_pending_retirement_shows_orders_newly_passing(
    api_client_for, account, instrument, officer_a, officer_b
):
    change = propose(officer_a, "MAXN", "max_notional", {"max_notional": "1500"})
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="ok")
    client = api_client_for(Role.TRADER)
    body = {
        "client_order_id": "big",
        "account": "ACC-T1",
        "instrument": "AAPL",
        "side": "buy",
        "order_type": "limit",
        "quantity": "50",
        "limit_price": "100",
        "time_in_force": "day",
        "metadata": {},
    }
    big = client.post(URL, body, format="json").json()
    assert big["status"] == "rejected"
    rule_change_propose(kind="retire", actor=officer_a, rule=ComplianceRule.objects.get())
    report = today_report()
    assert report.retired == ["MAXN"] and report.rules == []
    assert [r.order_id for r in report.newly_passing] == [big["id"]]
    assert report.by_rule == {"MAXN": {"rejected": [], "held": [], "passing": [big["id"]]}}


def test_the_period_bounds_the_orders(history, officer_a):
    propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"})
    yesterday = utcnow().date() - timedelta(days=1)
    assert replay(date_from=yesterday, date_to=yesterday).rows == []
    with pytest.raises(ValueError):
        replay(date_from=utcnow().date(), date_to=yesterday)


def test_the_command_prints_the_table_and_totals(history, officer_a):
    propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"})
    propose(officer_a, "HOLD-4000", "approval_threshold", {"notional": "4000"}, action="hold")
    today = utcnow().date().isoformat()
    out = StringIO()
    call_command("replay_rules", "--from", today, "--to", today, stdout=out)
    text = out.getvalue()
    assert f"#{history[5000]}" in text and f"#{history[100]}" not in text
    assert "Orders replayed:  5" in text
    assert "Newly rejected:   3" in text
    assert "Newly held:       0" in text  # the 5000 order is rejected, which wins over hold
    assert "Newly passing:    0" in text
    assert "MAXN-1500  rejected 3  held 0  passing 0" in text
    assert "HOLD-4000  rejected" not in text  # a hold rule never counts as rejecting
    assert "MAXN-1500, HOLD-4000 (hold)" in text
    assert "today's" in text

    out = StringIO()
    call_command(
        "replay_rules", "--from", today, "--to", today, "--rule", "HOLD-4000", "--all", stdout=out
    )
    text = out.getvalue()
    assert f"#{history[100]}" in text  # --all lists unchanged orders too
    assert "Newly rejected:   0" in text and "Newly held:       1" in text
    assert "HOLD-4000  rejected 0  held 1  passing 0" in text


def test_the_command_refuses_unknown_rules_and_dates(db):
    with pytest.raises(CommandError, match="Unknown rule code"):
        call_command("replay_rules", "--from", "2026-01-01", "--to", "2026-12-31", "--rule", "NO")
    with pytest.raises(CommandError, match="Not a date"):
        call_command("replay_rules", "--from", "yesterday", "--to", "2026-12-31")
    with pytest.raises(CommandError, match="before"):
        call_command("replay_rules", "--from", "2026-12-31", "--to", "2026-01-01")


def test_admin_whatif_replay_action(client, history, officer_a):
    rule = propose(officer_a, "MAXN-1500", "max_notional", {"max_notional": "1500"}).rule
    client.force_login(officer_a)
    response = client.post(
        "/admin/rules/compliancerule/",
        {"action": "whatif_replay", "_selected_action": [str(rule.pk)]},
        follow=True,
    )
    page = response.content.decode()
    assert "3 newly rejected" in page
    assert f"MAXN-1500: rejected 3 (#{history[2000]}, #{history[5000]}, #{history[3000]})" in page
