"""Market orders are protected: valued and collared at reference x (1 +/- band), never passed
for want of a limit, and rejected without a fresh reference price (fail closed).

AAPL's reference price is 100; the firm-wide collar is 5% with a 5% market band unless a test
says otherwise.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.core.errors import ValidationFailed
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.rules.models import RuleStatus
from apps.rules.services import rule_change_propose
from apps.trading.models import Order, ReferencePrice, WorkingExposure
from tests.rules.factories import make_rule, new_rule, order_body

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def market(side="buy", quantity="10", client_order_id="m-1"):
    return order_body(
        client_order_id, side=side, order_type="market", limit_price=None, quantity=quantity
    )


def checks_by_rule(answer: dict) -> dict:
    return {c["rule"]: c for c in answer["checks"]}


def test_a_market_buy_is_collared_and_valued_at_its_protected_price(trader):
    make_rule("price_collar", {"max_deviation_pct": "5"}, code="PX-COLLAR-1")
    make_rule("max_notional", {"max_notional": "5000"}, code="MAX-NOTIONAL")
    answer = trader.post(URL, market(), format="json").json()
    assert answer["status"] == "accepted"
    collar, notional = checks_by_rule(answer)["PX-COLLAR-1"], checks_by_rule(answer)["MAX-NOTIONAL"]
    assert collar["status"] == "pass"  # judged, not skipped
    assert collar["message"] == (
        "Market order protected at 105, 5% from the reference 100; the collar is 5%."
    )
    assert notional["observed"] == "1050"  # 10 x 105, not 10 x 100
    order = Order.objects.get(pk=answer["id"])
    assert order.market_band_pct == Decimal("5") and order.reference_price == Decimal("100")
    exposure = WorkingExposure.objects.get(account=order.account, instrument=order.instrument)
    assert exposure.buy_notional == Decimal("1050")
    shown = trader.get(f"{URL}{order.pk}/").json()
    assert (shown["market_band_pct"], shown["protected_price"]) == ("5", "105")
    limit = trader.post(URL, order_body("l-1"), format="json").json()
    shown = trader.get(f"{URL}{limit['id']}/").json()
    assert (shown["market_band_pct"], shown["protected_price"]) == (None, None)


def test_a_market_sell_is_valued_at_the_reference_less_its_band(trader):
    make_rule("price_collar", {"max_deviation_pct": "5", "market_band_pct": "2"})
    answer = trader.post(URL, market(side="sell"), format="json").json()
    order = Order.objects.get(pk=answer["id"])
    exposure = WorkingExposure.objects.get(account=order.account, instrument=order.instrument)
    assert exposure.sell_notional == Decimal("980")


def test_the_band_makes_a_market_buy_break_a_limit_the_reference_alone_would_not(trader):
    make_rule("price_collar", {"max_deviation_pct": "5"})
    make_rule("max_notional", {"max_notional": "1000"}, code="MAX-NOTIONAL")
    answer = trader.post(URL, market(), format="json").json()
    assert answer["status"] == "rejected"
    assert checks_by_rule(answer)["MAX-NOTIONAL"]["code"] == "notional_above_max"
    # The look-alike: a limit buy of 10 at 100 is 1,000, at the limit, and passes.
    limit = trader.post(URL, order_body("l-1"), format="json").json()
    assert limit["status"] == "accepted"


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        pytest.param("stale", "stale_reference_price", id="stale-reference"),
        pytest.param("none", "no_reference_price", id="no-reference"),
    ],
)
def test_a_market_order_without_a_trusted_reference_is_rejected(
    trader, instrument, reference, code
):
    make_rule("price_collar", {"max_deviation_pct": "5"}, code="PX-COLLAR-1")
    if reference == "stale":
        ReferencePrice.objects.update(as_of=utcnow() - timedelta(hours=1))
    else:
        ReferencePrice.objects.all().delete()
    answer = trader.post(URL, market(), format="json").json()
    assert answer["status"] == "rejected"
    assert checks_by_rule(answer)["PX-COLLAR-1"]["code"] == code


def test_the_narrowest_band_of_the_collars_that_apply_protects_the_order(trader):
    make_rule("price_collar", {"max_deviation_pct": "5"}, code="PX-FIRM")
    make_rule(
        "price_collar",
        {"max_deviation_pct": "3", "market_band_pct": "2"},
        code="PX-AAPL",
        scope="instrument",
        scope_value="AAPL",
    )
    # A collar elsewhere, and one in testing, do not set the band.
    make_rule(
        "price_collar",
        {"max_deviation_pct": "1", "market_band_pct": "0.5"},
        scope="instrument",
        scope_value="MSFT",
    )
    make_rule(
        "price_collar",
        {"max_deviation_pct": "1"},
        code="PX-SHADOW",
        status=RuleStatus.TESTING,
    )
    answer = trader.post(URL, market(), format="json").json()
    assert answer["status"] == "accepted"
    assert Order.objects.get(pk=answer["id"]).market_band_pct == Decimal("2")
    by_rule = checks_by_rule(answer)
    assert by_rule["PX-FIRM"]["status"] == by_rule["PX-AAPL"]["status"] == "pass"
    # The tighter collar in testing says it would refuse the 2% protection.
    assert by_rule["PX-SHADOW"]["status"] == "warn"
    assert by_rule["PX-SHADOW"]["code"] == "price_outside_collar"


def test_a_limit_order_carries_no_band(trader):
    make_rule("price_collar", {"max_deviation_pct": "5"})
    answer = trader.post(URL, order_body(), format="json").json()
    assert Order.objects.get(pk=answer["id"]).market_band_pct is None


def test_a_band_wider_than_its_collar_is_refused_as_a_rule_change(make_user):
    fields = new_rule(
        code="PX-WIDE",
        rule_type="price_collar",
        parameters={"max_deviation_pct": "5", "market_band_pct": "8"},
        regulation="SEC 15c3-5(c)(1)(ii)",
    )
    officer = make_user(Role.COMPLIANCE_OFFICER)
    with pytest.raises(ValidationFailed) as refused:
        rule_change_propose(kind="create", actor=officer, fields=fields)
    assert "market_band_pct must not exceed max_deviation_pct" in str(refused.value.details)
