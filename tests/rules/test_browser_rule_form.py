"""The rule form in a real headless Chromium (Playwright driving Debian's chromium).

A Compliance Officer edits a max_notional rule's limit through its field and the pending change
shows the new value; on the add page, choosing a rule type brings up that type's fields (a
static script reloads the page; no inline script, so the Content-Security-Policy holds). A
Viewer sees the rule without inputs.
"""

import pytest
from playwright.sync_api import expect

from apps.rbac.roles import Role
from apps.rbac.services import user_create
from apps.rules.models import ComplianceRule
from tests.browser import PASSWORD, sign_in
from tests.rules.factories import make_rule


@pytest.fixture
def rulebook(audit_transactional_db):
    rule = make_rule("max_notional", {"max_notional": "500"}, code="NOTIONAL-500")
    user_create(username="olga", password=PASSWORD, role=Role.COMPLIANCE_OFFICER)
    user_create(username="vic", password=PASSWORD, role=Role.VIEWER)
    return rule.pk


def _csp_violations(page) -> list[str]:
    found = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def test_officer_edits_a_limit_through_its_field(rulebook, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "olga")
    violations = _csp_violations(page)
    page.goto(f"{base}/admin/rules/compliancerule/{rulebook}/change/")
    field = page.locator("#id_param__max_notional")
    expect(field).to_have_value("500")
    expect(page.locator(".field-param__max_notional")).to_contain_text("Greater than 0")
    field.fill("750")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/rules/rulechange/")
    expect(page.locator(".messagelist")).to_contain_text("Proposed edit of rule NOTIONAL-500")
    row = page.locator("#result_list tbody tr").first
    expect(row.locator(".field-rule_code")).to_have_text("NOTIONAL-500")
    expect(row.locator(".field-diff")).to_contain_text(
        'parameters: {"max_notional": "500"} → {"max_notional": "750"}'
    )
    assert violations == []


def test_a_bad_value_is_refused_beside_its_field(rulebook, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "olga")
    page.goto(f"{base}/admin/rules/compliancerule/{rulebook}/change/")
    page.fill("#id_param__max_notional", "-5")
    page.click("input[name=_save]")
    expect(page.locator(".field-param__max_notional .errorlist")).to_have_text(
        "max_notional must be greater than zero"
    )


def test_choosing_a_rule_type_brings_its_fields(rulebook, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "olga")
    violations = _csp_violations(page)
    page.goto(f"{base}/admin/rules/compliancerule/add/")
    expect(page.locator("#id_param__max_age_seconds")).to_have_count(0)
    page.select_option("#id_rule_type", "price_collar")
    page.wait_for_url(f"{base}/admin/rules/compliancerule/add/?rule_type=price_collar")
    expect(page.locator("#id_param__max_age_seconds")).to_have_value("300")
    expect(page.locator("#id_param__max_deviation_pct")).to_have_value("5")
    expect(page.locator("#id_rule_type")).to_have_value("price_collar")
    assert violations == []


def test_a_viewer_sees_no_parameter_inputs(rulebook, browser, live_server):
    base = live_server.url
    page = sign_in(browser, base, "vic")
    page.goto(f"{base}/admin/rules/compliancerule/{rulebook}/change/")
    expect(page.locator(".field-parameters")).to_contain_text("max_notional")
    expect(page.locator("input[name^=param__]")).to_have_count(0)


def test_nothing_is_stored_by_opening_the_form(rulebook):
    assert ComplianceRule.objects.get(pk=rulebook).parameters == {"max_notional": "500"}
