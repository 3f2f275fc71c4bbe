"""The back-office rule form: one field per parameter of the rule type, the JSON kept as an
advanced fallback, and the proposal carrying the same `parameters` object as the API's."""

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.rules.admin_rules import change_diff
from apps.rules.models import ComplianceRule, RuleChange
from apps.rules.services import rule_change_decide, rule_change_propose
from tests.permissions import assert_page_role_required
from tests.rules.factories import new_rule

ADD = "/admin/rules/compliancerule/add/"


@pytest.fixture
def officer_a(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_a")


@pytest.fixture
def officer_b(make_user):
    return make_user(Role.COMPLIANCE_OFFICER, username="officer_b")


@pytest.fixture
def rule(officer_a, officer_b) -> ComplianceRule:
    change = rule_change_propose(kind="create", actor=officer_a, fields=new_rule())
    rule_change_decide(change=change, actor=officer_b, approve=True, comment="reviewed")
    return ComplianceRule.objects.get(pk=change.rule_id)


def change_url(rule) -> str:
    return f"/admin/rules/compliancerule/{rule.pk}/change/"


def form_data(rule_type: str = "max_notional", **overrides) -> dict:
    """The add form as the browser posts it once the rule type's fields are on the page."""
    data = {
        "code": "FORM-1",
        "status_on_approval": "active",
        "name": "Max notional from the form",
        "description": "",
        "rule_type": rule_type,
        "param_fields_for": rule_type,
        "parameters": "{}",
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


def edit_data(rule, **overrides) -> dict:
    data = form_data(
        name=rule.name,
        description=rule.description,
        parameters='{"max_notional": "500"}',
        regulation=rule.regulation,
        param__max_notional="500",
    )
    del data["code"], data["status_on_approval"]
    data.update(overrides)
    return data


def form_errors(response) -> dict:
    return response.context_data["adminform"].form.errors


def test_the_add_page_shows_the_chosen_types_fields(client, officer_a):
    client.force_login(officer_a)
    page = client.get(ADD).content.decode()
    assert 'name="parameters"' in page and 'name="param__' not in page
    assert "Choose the rule type above" in page
    assert 'src="/static/js/rule_form.js"' in page
    page = client.get(f"{ADD}?rule_type=price_collar").content.decode()
    for name in ("max_deviation_pct", "max_age_seconds", "market_band_pct"):
        assert f'name="param__{name}"' in page
    assert 'value="300"' in page  # the default shown
    assert '<option value="price_collar" selected>' in page
    assert "Parameters as JSON (advanced)" in page


def test_adding_through_the_fields_proposes_their_parameters(client, officer_a):
    client.force_login(officer_a)
    response = client.post(ADD, form_data(param__max_notional="900"))
    assert response.status_code == 302, response.content.decode()[:2000]
    change = RuleChange.objects.get()
    assert change.kind == "create" and change.proposed["parameters"] == {"max_notional": "900"}
    assert AuditEvent.objects.filter(object_type="rules.compliancerule").exists()


def test_lists_booleans_and_defaults_become_the_apis_json(client, officer_a):
    client.force_login(officer_a)
    data = form_data(
        "decision_provenance",
        param__require_any_of="signal_id\r\nstrategy_id",
        param__forbidden_decisions="",
        param__max_risk_score="80",
        param__require_review_flag_above_score="",
    )
    assert client.post(ADD, data).status_code == 302
    assert RuleChange.objects.get().proposed["parameters"] == {
        "require_any_of": ["signal_id", "strategy_id"],
        "forbidden_decisions": [],
        "max_risk_score": "80",
    }


def test_editing_a_field_proposes_the_new_value(client, officer_a, rule):
    client.force_login(officer_a)
    page = client.get(change_url(rule)).content.decode()
    assert 'name="param__max_notional"' in page and 'value="500"' in page
    response = client.post(change_url(rule), edit_data(rule, param__max_notional="750"))
    assert response.status_code == 302, response.content.decode()[:2000]
    change = RuleChange.objects.get(status="pending")
    assert change.kind == "edit" and change.proposed["parameters"] == {"max_notional": "750"}
    rule.refresh_from_db()
    assert rule.parameters == {"max_notional": "500"}  # until another officer approves


def test_an_unchanged_form_proposes_no_parameter_change(client, officer_a, rule):
    client.force_login(officer_a)
    response = client.post(change_url(rule), edit_data(rule, priority="5"))
    assert response.status_code == 302
    assert change_diff(RuleChange.objects.get(status="pending")) == ["priority: 100 → 5"]


def test_validates_message_lands_beside_the_field_and_nothing_is_stored(client, officer_a, rule):
    client.force_login(officer_a)
    response = client.post(change_url(rule), edit_data(rule, param__max_notional="-1"))
    assert response.status_code == 200
    assert form_errors(response)["param__max_notional"] == [
        "max_notional must be greater than zero"
    ]
    response = client.post(change_url(rule), edit_data(rule, param__max_notional="lots"))
    assert "max_notional must be a number" in form_errors(response)["param__max_notional"][0]
    assert not RuleChange.objects.filter(status="pending").exists()


def test_the_json_is_still_an_advanced_fallback(client, officer_a, rule):
    client.force_login(officer_a)
    both = edit_data(rule, param__max_notional="600", parameters='{"max_notional": "700"}')
    response = client.post(change_url(rule), both)
    assert response.status_code == 200
    assert "not both" in str(form_errors(response)["parameters"])
    assert not RuleChange.objects.filter(status="pending").exists()
    response = client.post(change_url(rule), edit_data(rule, parameters='{"max_notional": "700"}'))
    assert response.status_code == 302
    assert RuleChange.objects.get(status="pending").proposed["parameters"] == {
        "max_notional": "700"
    }


def test_a_changed_type_shows_its_fields_before_anything_is_proposed(client, officer_a):
    client.force_login(officer_a)
    data = form_data("order_size", param_fields_for="max_notional", param__max_notional="900")
    response = client.post(ADD, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "now those of order_size" in page and 'name="param__max_quantity"' in page
    assert not RuleChange.objects.exists() and not ComplianceRule.objects.exists()


def test_a_portfolio_rule_has_its_fields_too(client, officer_a):
    client.force_login(officer_a)
    data = form_data(
        "position_weight",
        param__max_pct="7.5",
        param__min_portfolio_value="",
        param__severity="critical",
        scope="account",
        scope_value="ACC-1",
    )
    response = client.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert RuleChange.objects.get().proposed["parameters"] == {
        "max_pct": "7.5",
        "severity": "critical",
    }


def test_the_form_with_fields_needs_a_compliance_officer(client, make_user):
    assert_page_role_required(
        client, make_user, f"{ADD}?rule_type=max_notional", Role.COMPLIANCE_OFFICER
    )
    client.force_login(make_user(Role.RISK_MANAGER))
    response = client.post(ADD, form_data(param__max_notional="900"))
    assert response.status_code == 403
    assert not RuleChange.objects.exists()


def test_a_viewer_sees_the_rule_without_parameter_inputs(client, make_user, rule):
    client.force_login(make_user(Role.VIEWER))
    page = client.get(change_url(rule)).content.decode()
    assert 'name="param__' not in page and "max_notional" in page
    response = client.post(change_url(rule), edit_data(rule, param__max_notional="1"))
    assert response.status_code == 403
    assert not RuleChange.objects.filter(status="pending").exists()


def test_an_unknown_rule_type_is_an_error_on_the_form_not_a_crash(client, officer_a):
    client.force_login(officer_a)
    page = client.get(f"{ADD}?rule_type=no_such_type")
    assert page.status_code == 200 and 'name="param__' not in page.content.decode()
    response = client.post(ADD, form_data("no_such_type"))
    assert response.status_code == 200
    assert "rule_type" in form_errors(response)
    assert not RuleChange.objects.exists()
