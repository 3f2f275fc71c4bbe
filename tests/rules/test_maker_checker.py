"""Maker-checker for compliance rules: one officer proposes, another approves; the gate applies
only approved rules. Also the restricted list services and the back office pages for both."""

import json
from datetime import timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.rules.models import (
    ComplianceRule,
    RegulatoryEntity,
    RestrictedListEntry,
    RuleChange,
    RuleVersion,
)
from apps.rules.services import (
    regulatory_entity_create,
    restricted_entry_add,
    restricted_entry_end,
    rule_change_decide,
    rule_change_propose,
)
from tests.permissions import assert_page_role_required
from tests.rules.factories import make_rule, new_rule

URL = "/api/v1/orders/"


def order(n: int, **overrides) -> dict:
    data = {
        "client_order_id": f"mc-{n}",
        "account": "ACC-T1",
        "instrument": "AAPL",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "limit_price": "100",  # notional 1000
        "time_in_force": "day",
        "metadata": {"signal_id": f"s{n}"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def officer_a(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_a")


@pytest.fixture
def officer_b(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_b")


@pytest.fixture
def trader(api_client_for, account, instrument):
    client = api_client_for(Role.TRADER)
    counter = iter(range(1, 10_000))

    def submit(**overrides) -> dict:
        response = client.post(URL, order(next(counter), **overrides), format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return submit


def live_rule(officer_a, officer_b, **overrides) -> ComplianceRule:
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule(**overrides))
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="reviewed")
    return ComplianceRule.objects.get(pk=change.rule_id)


def rule_events(rule) -> list[dict]:
    events = AuditEvent.objects.filter(
        event_type="CONFIG_CHANGED", object_type="rules.compliancerule", object_id=str(rule.pk)
    ).order_by("seq")
    return [json.loads(e.record)["payload"] for e in events]


# --- maker-checker through the services, effect through the gate -----------------------------


def test_a_proposal_is_inert_until_another_officer_approves(trader, officer_a, officer_b):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    rule = change.rule
    assert rule.status == "pending_approval" and rule.version == 0
    assert change.status == "pending" and change.before is None
    assert change.proposed["parameters"] == {"max_notional": "500"}
    assert trader()["status"] == "accepted"  # visible, but not evaluated

    with pytest.raises(PermissionDenied) as refused:
        rule_change_decide(change=change, actor=officer_a, approve=True, comment="mine")
    assert "four-eyes: the proposer cannot approve" in refused.value.message
    assert refused.value.status_code == 403
    change.refresh_from_db()
    assert change.status == "pending"

    rule_change_decide(change=change, actor=officer_b, approve=True, comment="reviewed")
    change.refresh_from_db()
    rule.refresh_from_db()
    assert (change.status, change.decided_by, change.comment) == ("approved", officer_b, "reviewed")
    assert (rule.status, rule.version) == ("active", 1)

    answer = trader()
    assert answer["status"] == "rejected"
    assert answer["checks"][0]["rule"] == "MAXN-1"
    assert answer["checks"][0]["regulation"] == "SEC 15c3-5(c)(1)(i)"


@pytest.mark.parametrize(
    "role", [None, Role.VIEWER, Role.TRADER, Role.RISK_MANAGER], ids=lambda r: str(r)
)
def test_below_compliance_officer_cannot_propose_or_decide(make_user, officer_a, role):
    user = make_user(role)
    with pytest.raises(PermissionDenied):
        rule_change_propose(kind="create", actor=user, fields=new_rule())
    assert not ComplianceRule.objects.exists() and not RuleChange.objects.exists()
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    with pytest.raises(PermissionDenied):
        rule_change_decide(change=change, actor=user, approve=True, comment="ok")
    change.refresh_from_db()
    assert change.status == "pending"


def test_an_admin_may_approve(make_user, officer_a):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    rule_change_decide(change=change, actor=make_user(Role.ADMIN), approve=True, comment="ok")
    assert ComplianceRule.objects.get().status == "active"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"rule_type": "astrology"}, "rule_type", "Unknown rule type 'astrology'"),
        (
            {"parameters": {"max_notional": "-5"}},
            "parameters",
            "max_notional must be greater than zero",
        ),
        ({"parameters": {"max_notional": "lots"}}, "parameters", "must be a number"),
        ({"parameters": {"max_notional": 500.5}}, "parameters", "decimal strings"),
        ({"parameters": {}}, "parameters", "max_notional is required"),
        (
            {"parameters": {"max_notional": "5", "bogus": "1"}},
            "parameters",
            "unknown parameters: bogus",
        ),
        ({"parameters": "max 500"}, "parameters", "Must be an object"),
        ({"scope": "account"}, "scope_value", "Required for the account scope"),
        ({"scope_value": "ACC-T1"}, "scope_value", "firm-wide rule has no scope value"),
        ({"action": "explode"}, "action", "Must be one of"),
        ({"code": ""}, "code", "Required"),
        ({"code": "has space"}, "code", "Letters, digits"),
        ({"regulatory_entity": "NOPE"}, "regulatory_entity", "Unknown regulatory entity"),
        (
            {
                "effective_from": "2026-02-01T00:00:00Z",
                "effective_until": "2026-01-01T00:00:00Z",
            },
            "effective_until",
            "Must be after effective_from",
        ),
        ({"effective_from": "2026-02-01T00:00:00"}, "effective_from", "time zone"),
        ({"priority": "first"}, "priority", "whole number"),
    ],
)
def test_a_bad_proposal_is_refused_clearly_and_stores_nothing(officer_a, overrides, field, message):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(kind="create", actor=officer_a, fields=new_rule(**overrides))
    error = refused.value
    assert error.status_code == 400
    assert field in error.details, error.details
    assert any(message in m for m in error.details[field]), error.details
    assert set(error.as_body()["error"]) == {"code", "message", "details"}
    assert not ComplianceRule.objects.exists() and not RuleChange.objects.exists()
    assert AuditEvent.objects.count() == events


def test_bad_parameters_message_is_the_checks_own(officer_a):
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(
            kind="create", actor=officer_a, fields=new_rule(parameters={"max_notional": "0"})
        )
    assert refused.value.details == {"parameters": ["max_notional must be greater than zero"]}


def test_a_duplicate_code_is_refused(officer_a, officer_b):
    live_rule(officer_a, officer_b)
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(kind="create", actor=officer_a, fields=new_rule(name="again"))
    assert "exists" in refused.value.details["code"][0]
    assert ComplianceRule.objects.count() == 1 and RuleChange.objects.count() == 1


def test_edits_keep_versions_with_before_and_after(trader, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    assert trader()["status"] == "rejected"

    edit = rule_change_propose(
        kind="edit", actor=officer_b, rule=rule, fields={"parameters": {"max_notional": "2000"}}
    )
    assert edit.before["parameters"] == {"max_notional": "500"}
    assert edit.proposed["parameters"] == {"max_notional": "2000"}
    assert edit.proposed["name"] == rule.name  # the full field set after the change
    rule.refresh_from_db()
    assert rule.parameters == {"max_notional": "500"} and rule.version == 1  # untouched
    assert trader()["status"] == "rejected"

    rule_change_decide(change=edit, actor=officer_a, approve=True, comment="raise the limit")
    rule.refresh_from_db()
    assert rule.parameters == {"max_notional": "2000"} and rule.version == 2
    assert trader()["status"] == "accepted"

    versions = list(RuleVersion.objects.filter(rule=rule).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].snapshot["parameters"] == {"max_notional": "500"}
    assert versions[1].snapshot["parameters"] == {"max_notional": "2000"}
    assert versions[1].change == edit


def test_proposals_values_are_json_safe(officer_a, officer_b):
    RegulatoryEntity.objects.create(code="SEC", name="SEC", jurisdiction="US")
    start = utcnow().replace(microsecond=0)
    change = rule_change_propose(
        kind="create",
        actor=officer_a,
        fields=new_rule(effective_from=start, regulatory_entity="SEC"),
    )
    assert change.proposed["effective_from"] == start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert change.proposed["regulatory_entity"] == "SEC"
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="ok")
    rule = ComplianceRule.objects.get()
    assert rule.effective_from == start and rule.regulatory_entity.code == "SEC"


def test_audit_events_carry_the_stages(officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    edit = rule_change_propose(
        kind="edit", actor=officer_a, rule=rule, fields={"priority": 5, "name": "Renamed"}
    )
    rule_change_decide(change=edit, actor=officer_b, approve=False, comment="not now")
    events = rule_events(rule)
    assert [e["stage"] for e in events] == ["proposed", "approved", "proposed", "rejected"]
    proposed, approved = events[0], events[1]
    assert proposed["kind"] == "create" and proposed["rule"] == "MAXN-1"
    assert proposed["before"] is None and proposed["proposed"]["rule_type"] == "max_notional"
    assert approved["after"]["status"] == "active" and approved["version"] == 1
    assert approved["comment"] == "reviewed"
    assert events[2]["before"]["priority"] == 100 and events[2]["proposed"]["priority"] == 5
    assert events[3]["change_id"] == edit.pk and events[3]["comment"] == "not now"
    actors = list(
        AuditEvent.objects.filter(object_type="rules.compliancerule")
        .order_by("seq")
        .values_list("actor", flat=True)
    )
    assert actors == ["officer_a", "officer_b", "officer_a", "officer_b"]


def test_a_rejected_create_leaves_the_rule_inactive(trader, officer_a, officer_b):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    rule_change_decide(change=change, actor=officer_b, approve=False, comment="too tight")
    rule = ComplianceRule.objects.get()
    change.refresh_from_db()
    assert rule.status == "inactive" and change.status == "rejected"
    assert not RuleVersion.objects.exists()
    assert trader()["status"] == "accepted"
    with pytest.raises(Conflict):
        rule_change_decide(change=change, actor=officer_b, approve=True, comment="changed mind")


def test_a_rejected_edit_leaves_the_rule_as_it_was(trader, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    edit = rule_change_propose(
        kind="edit", actor=officer_a, rule=rule, fields={"parameters": {"max_notional": "9000"}}
    )
    rule_change_decide(change=edit, actor=officer_b, approve=False, comment="no")
    rule.refresh_from_db()
    assert rule.parameters == {"max_notional": "500"} and rule.version == 1
    assert trader()["status"] == "rejected"


def test_a_decision_needs_a_comment(officer_a, officer_b):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    with pytest.raises(ValidationFailed) as refused:
        rule_change_decide(change=change, actor=officer_b, approve=True, comment="   ")
    assert "comment" in refused.value.details
    change.refresh_from_db()
    assert change.status == "pending"


def test_one_pending_change_per_rule(officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    first = rule_change_propose(kind="edit", actor=officer_a, rule=rule, fields={"priority": 1})
    with pytest.raises(Conflict) as refused:
        rule_change_propose(kind="retire", actor=officer_b, rule=rule)
    assert refused.value.code == "rule_change_pending"
    assert refused.value.details["change_id"] == first.pk
    # and a new rule awaiting approval is itself a pending change
    pending = rule_change_propose(kind="create", actor=officer_a, fields=new_rule(code="MAXN-2"))
    with pytest.raises(Conflict):
        rule_change_propose(kind="edit", actor=officer_b, rule=pending.rule, fields={"priority": 2})
    rule_change_decide(change=first, actor=officer_b, approve=True, comment="ok")
    rule_change_propose(kind="retire", actor=officer_b, rule=rule)  # free again


def test_edits_cannot_change_the_code_or_nothing(officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(kind="edit", actor=officer_a, rule=rule, fields={"code": "X"})
    assert "code" in refused.value.details
    with pytest.raises(ValidationFailed):
        rule_change_propose(kind="edit", actor=officer_a, rule=rule, fields={"priority": 100})
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(
            kind="edit", actor=officer_a, rule=rule, fields={"parameters": {"max_notional": "x"}}
        )
    assert "parameters" in refused.value.details
    assert not RuleChange.objects.filter(status="pending").exists()


def test_retire_stops_the_rule_applying(trader, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    retire = rule_change_propose(kind="retire", actor=officer_a, rule=rule)
    assert retire.proposed["status"] == "inactive" and retire.before["status"] == "active"
    assert trader()["status"] == "rejected"  # still in force until approved
    rule_change_decide(change=retire, actor=officer_b, approve=True, comment="superseded")
    rule.refresh_from_db()
    assert (rule.status, rule.version) == ("inactive", 2)
    assert trader()["status"] == "accepted"
    with pytest.raises(Conflict):
        rule_change_propose(kind="retire", actor=officer_a, rule=rule)


def test_a_broken_rule_can_still_be_retired(officer_a, officer_b):
    rule = make_rule("max_notional", {"max_notional": "lots"})
    retire = rule_change_propose(kind="retire", actor=officer_a, rule=rule)
    rule_change_decide(change=retire, actor=officer_b, approve=True, comment="broken")
    rule.refresh_from_db()
    assert rule.status == "inactive"


def test_testing_status_is_shadow(trader, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b, status="testing")
    assert rule.status == "testing"
    answer = trader()
    assert answer["status"] == "accepted"
    assert answer["checks"][0]["status"] == "warn" and answer["checks"][0]["shadow"] is True
    # put an active rule back into shadow, then activate it again
    activate = rule_change_propose(kind="activate", actor=officer_b, rule=rule)
    rule_change_decide(change=activate, actor=officer_a, approve=True, comment="go live")
    assert trader()["status"] == "rejected"
    test = rule_change_propose(kind="test", actor=officer_a, rule=rule)
    rule_change_decide(change=test, actor=officer_b, approve=True, comment="watch it")
    assert trader()["status"] == "accepted"
    assert ComplianceRule.objects.get(pk=rule.pk).version == 3


def test_approving_a_change_to_a_rule_changed_meanwhile_is_a_conflict(officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    edit = rule_change_propose(kind="edit", actor=officer_a, rule=rule, fields={"priority": 7})
    ComplianceRule.objects.filter(pk=rule.pk).update(priority=3)  # outside maker-checker
    with pytest.raises(Conflict) as refused:
        rule_change_decide(change=edit, actor=officer_b, approve=True, comment="ok")
    assert refused.value.code == "rule_change_stale"


# --- the restricted list ----------------------------------------------------------------------


def test_restricted_list_add_and_end(trader, officer_a, instrument, make_user):
    make_rule("restricted_list", {})
    assert trader()["status"] == "accepted"
    with pytest.raises(PermissionDenied):
        restricted_entry_add(actor=make_user(Role.RISK_MANAGER), instrument=instrument, reason="x")
    entry = restricted_entry_add(actor=officer_a, instrument=instrument, reason="MNPI: deal team")
    answer = trader()
    assert answer["status"] == "rejected"
    assert answer["checks"][0]["code"] == "restricted_instrument"

    restricted_entry_end(entry=entry, actor=officer_a)
    assert trader()["status"] == "accepted"
    entry.refresh_from_db()
    assert entry.effective_until is not None and RestrictedListEntry.objects.count() == 1
    with pytest.raises(Conflict):
        restricted_entry_end(entry=entry, actor=officer_a)
    events = [
        json.loads(e.record)["payload"]
        for e in AuditEvent.objects.filter(object_type="rules.restrictedlistentry")
    ]
    assert [e["change"] for e in events] == ["restricted_list_added", "restricted_list_ended"]
    assert events[1]["before"]["effective_until"] is None
    assert events[1]["after"]["effective_until"] is not None


def test_restricted_list_issuer_and_bad_input(officer_a):
    with pytest.raises(ValidationFailed) as refused:
        restricted_entry_add(actor=officer_a, reason="")
    assert set(refused.value.details) == {"instrument", "reason"}
    start = utcnow() + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        restricted_entry_add(
            actor=officer_a, issuer="Acme", reason="x", effective_from=start, effective_until=start
        )
    assert not RestrictedListEntry.objects.exists()
    entry = restricted_entry_add(actor=officer_a, issuer=" Acme Corp ", reason="watch list")
    assert entry.issuer == "Acme Corp" and entry.added_by == officer_a


# --- the back office --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/admin/rules/compliancerule/", Role.VIEWER),
        ("/admin/rules/compliancerule/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/rules/rulechange/", Role.VIEWER),
        ("/admin/rules/ruleversion/", Role.VIEWER),
        ("/admin/rules/restrictedlistentry/", Role.VIEWER),
        ("/admin/rules/restrictedlistentry/add/", Role.COMPLIANCE_OFFICER),
        ("/admin/rules/regulatoryentity/", Role.VIEWER),
        ("/admin/rules/regulatoryentity/add/", Role.COMPLIANCE_OFFICER),
    ],
)
def test_rules_admin_pages_need_their_role(client, make_user, url, role):
    assert_page_role_required(client, make_user, url, role)


def add_form(**overrides) -> dict:
    data = {
        "code": "ADM-1",
        "status_on_approval": "active",
        "name": "Max notional from the back office",
        "description": "",
        "rule_type": "max_notional",
        "parameters": '{"max_notional": "500"}',
        "action": "reject",
        "priority": "100",
        "scope": "firm",
        "scope_value": "",
        "effective_from_0": "",
        "effective_from_1": "",
        "effective_until_0": "",
        "effective_until_1": "",
        "regulatory_entity": "",
        "regulation": "SEC 15c3-5",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_admin_add_form_proposes_and_saves_no_active_rule(client, trader, officer_a):
    client.force_login(officer_a)
    response = client.post("/admin/rules/compliancerule/add/", add_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/admin/rules/rulechange/"
    change = RuleChange.objects.get()
    assert (change.kind, change.status, change.proposed_by) == ("create", "pending", officer_a)
    rule = ComplianceRule.objects.get()
    assert rule.code == "ADM-1" and rule.status == "pending_approval"
    assert rule.parameters == {"max_notional": "500"}
    assert not ComplianceRule.objects.filter(status="active").exists()
    assert trader()["status"] == "accepted"
    assert [e["stage"] for e in rule_events(rule)] == ["proposed"]


def test_admin_add_form_shows_the_checks_message_and_stores_nothing(client, officer_a):
    client.force_login(officer_a)
    response = client.post(
        "/admin/rules/compliancerule/add/", add_form(parameters='{"max_notional": "-1"}')
    )
    assert response.status_code == 200
    assert "max_notional must be greater than zero" in response.content.decode()
    response = client.post("/admin/rules/compliancerule/add/", add_form(scope="account"))
    assert "Required for the account scope" in response.content.decode()
    assert not ComplianceRule.objects.exists() and not RuleChange.objects.exists()


def test_admin_add_form_refuses_a_risk_manager(client, make_user):
    client.force_login(make_user(Role.RISK_MANAGER))
    response = client.post("/admin/rules/compliancerule/add/", add_form())
    assert response.status_code == 403
    assert not ComplianceRule.objects.exists()


def test_admin_change_form_proposes_an_edit(client, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    client.force_login(officer_a)
    data = add_form(
        name=rule.name,
        description=rule.description,
        parameters='{"max_notional": "750"}',
        regulation=rule.regulation,
    )
    del data["code"], data["status_on_approval"]
    response = client.post(f"/admin/rules/compliancerule/{rule.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    change = RuleChange.objects.get(status="pending")
    assert change.kind == "edit" and change.proposed["parameters"] == {"max_notional": "750"}
    rule.refresh_from_db()
    assert rule.parameters == {"max_notional": "500"}
    # a second edit while one is pending is refused on the form
    response = client.post(f"/admin/rules/compliancerule/{rule.pk}/change/", data)
    assert response.status_code == 200
    assert "already has a pending change" in response.content.decode()


def test_viewer_sees_rules_read_only(client, make_user, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    client.force_login(make_user(Role.VIEWER))
    page = client.get(f"/admin/rules/compliancerule/{rule.pk}/change/")
    assert page.status_code == 200 and b'name="parameters"' not in page.content
    response = client.post(f"/admin/rules/compliancerule/{rule.pk}/change/", add_form())
    assert response.status_code == 403
    assert RuleChange.objects.count() == 1


def test_pending_change_list_shows_the_diff(client, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    rule_change_propose(
        kind="edit",
        actor=officer_a,
        rule=rule,
        fields={"priority": 5, "parameters": {"max_notional": "750"}},
    )
    client.force_login(officer_b)
    page = client.get("/admin/rules/rulechange/").content.decode()
    assert "priority: 100 → 5" in page
    assert "parameters: {&quot;max_notional&quot;: &quot;500&quot;} → " in page
    assert "name:" not in page  # unchanged fields are not listed
    # the list opens on pending changes; the approved create shows under "All"
    assert page.count('class="field-kind"') == 1  # one pending change
    everything = client.get("/admin/rules/rulechange/?status=all").content.decode()
    assert everything.count('class="field-kind"') == 2


def _action(client, change, action: str, **extra):
    data = {"action": action, "_selected_action": [str(change.pk)], **extra}
    return client.post("/admin/rules/rulechange/", data, follow=bool(extra))


def test_admin_approve_by_another_officer(client, trader, officer_a, officer_b):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    client.force_login(officer_b)
    confirm = _action(client, change, "approve_changes")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert 'name="comment"' in page and "parameters: — → " in page
    # no comment: asked again, nothing decided
    again = client.post(
        "/admin/rules/rulechange/",
        {"action": "approve_changes", "_selected_action": [str(change.pk)], "confirm": "yes"},
    )
    assert again.status_code == 200 and "A comment is required." in again.content.decode()
    change.refresh_from_db()
    assert change.status == "pending"

    done = _action(client, change, "approve_changes", confirm="yes", comment="checked the limit")
    assert done.status_code == 200 and f"Approved #{change.pk}" in done.content.decode()
    change.refresh_from_db()
    assert (change.status, change.decided_by, change.comment) == (
        "approved",
        officer_b,
        "checked the limit",
    )
    assert ComplianceRule.objects.get().status == "active"
    assert trader()["status"] == "rejected"


def test_admin_approve_by_the_proposer_is_refused(client, officer_a):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    client.force_login(officer_a)
    done = _action(client, change, "approve_changes", confirm="yes", comment="my own")
    assert "four-eyes: the proposer cannot approve" in done.content.decode()
    change.refresh_from_db()
    assert change.status == "pending"
    assert ComplianceRule.objects.get().status == "pending_approval"


def test_admin_reject_and_viewer_cannot_decide(client, make_user, officer_a, officer_b):
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    client.force_login(make_user(Role.RISK_MANAGER))
    refused = _action(client, change, "reject_changes", confirm="yes", comment="no")
    change.refresh_from_db()
    assert change.status == "pending", refused.status_code
    client.force_login(officer_b)
    _action(client, change, "reject_changes", confirm="yes", comment="not needed")
    change.refresh_from_db()
    assert change.status == "rejected"
    assert ComplianceRule.objects.get().status == "inactive"


def test_admin_status_actions_propose(client, officer_a, officer_b):
    rule = live_rule(officer_a, officer_b)
    client.force_login(officer_a)
    client.post(
        "/admin/rules/compliancerule/",
        {"action": "propose_retirement", "_selected_action": [str(rule.pk)]},
    )
    change = RuleChange.objects.get(status="pending")
    assert change.kind == "retire" and change.proposed_by == officer_a
    rule.refresh_from_db()
    assert rule.status == "active"


def test_admin_restricted_list_add_and_end(client, officer_a, instrument):
    client.force_login(officer_a)
    response = client.post(
        "/admin/rules/restrictedlistentry/add/",
        {
            "instrument": str(instrument.pk),
            "issuer": "",
            "reason": "Research blackout",
            "effective_from_0": "",
            "effective_from_1": "",
            "effective_until_0": "",
            "effective_until_1": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = RestrictedListEntry.objects.get()
    assert entry.added_by == officer_a and entry.effective_until is None
    client.post(
        "/admin/rules/restrictedlistentry/",
        {"action": "end_now", "_selected_action": [str(entry.pk)]},
    )
    entry.refresh_from_db()
    assert entry.effective_until is not None
    assert RestrictedListEntry.objects.count() == 1
    missing = client.post(
        "/admin/rules/restrictedlistentry/add/",
        {"issuer": "", "reason": "", "_save": "Save"},
    )
    assert missing.status_code == 200 and "Give an instrument or an issuer." in (
        missing.content.decode()
    )


def test_regulatory_entities_through_the_service(client, officer_a, make_user):
    with pytest.raises(PermissionDenied):
        regulatory_entity_create(
            actor=make_user(Role.RISK_MANAGER), code="SEC", name="SEC", jurisdiction="US"
        )
    client.force_login(officer_a)
    response = client.post(
        "/admin/rules/regulatoryentity/add/",
        {"code": "FINRA", "name": "FINRA", "jurisdiction": "US", "_save": "Save"},
    )
    assert response.status_code == 302
    entity = RegulatoryEntity.objects.get()
    assert AuditEvent.objects.filter(
        object_type="rules.regulatoryentity", object_id=str(entity.pk)
    ).exists()
