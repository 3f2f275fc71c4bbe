from itertools import count

from django.utils import timezone

from apps.rules import gate
from apps.rules.models import ComplianceRule, RuleStatus

_codes = count(1)


def make_rule(
    rule_type: str,
    params: dict | None = None,
    *,
    action: str = "reject",
    status: str = RuleStatus.ACTIVE,
    code: str | None = None,
    **fields,
):
    """An active rule straight into the table (tests of the engine, not of maker-checker)."""
    rule = ComplianceRule.objects.create(
        code=code or f"T-{rule_type[:12].upper()}-{next(_codes)}",
        name=rule_type,
        rule_type=rule_type,
        parameters=params or {},
        action=action,
        status=status,
        regulation=fields.pop("regulation", "SEC 15c3-5(c)(1)(ii)"),
        **fields,
    )
    gate.ruleset_bump()
    return rule


def order_body(client_order_id: str = "c-1", **overrides) -> dict:
    """An order as the API takes it: a day limit buy of 10 AAPL at 100 (notional 1000) on
    ACC-T1. An override of None leaves the field out."""
    data = {
        "client_order_id": client_order_id,
        "account": "ACC-T1",
        "instrument": "AAPL",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "limit_price": "100",
        "time_in_force": "day",
        "metadata": {"signal_id": "s1"},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def new_rule(**overrides) -> dict:
    """The fields of a rule as proposed under maker-checker: a firm-wide max notional of 500."""
    fields = {
        "code": "MAXN-1",
        "name": "Max notional per order",
        "description": "Fat-finger guard",
        "rule_type": "max_notional",
        "parameters": {"max_notional": "500"},
        "scope": "firm",
        "scope_value": "",
        "action": "reject",
        "effective_from": None,
        "effective_until": None,
        "regulatory_entity": None,
        "regulation": "SEC 15c3-5(c)(1)(i)",
        "priority": 100,
    }
    fields.update(overrides)
    return fields


def report_fill(client, order_id: int, quantity: str = "10", price: str = "100") -> dict:
    """Report an execution of the order through the API, now on XNYS; the answer's body."""
    response = client.post(
        f"/api/v1/orders/{order_id}/fills/",
        {
            "exec_id": f"x-{order_id}-{next(_codes)}",
            "quantity": quantity,
            "price": price,
            "venue": "XNYS",
            "executed_at": timezone.now().isoformat(),
            "liquidity": "removed",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()
