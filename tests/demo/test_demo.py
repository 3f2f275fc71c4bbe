"""The demo rule set (seed_demo) and the simulated order flow (simulate_flow)."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.approvals.models import ApprovalRequest
from apps.core.time import utcnow
from apps.rules import gate
from apps.rules.models import (
    ComplianceRule,
    PortfolioRuleType,
    RegulatoryEntity,
    RestrictedListEntry,
    RuleSetVersion,
    RuleStatus,
    RuleType,
    RuleVersion,
)
from apps.trading.models import Account, Fill, Instrument, Order
from apps.trading.selectors import instrument_latest_price


def _seed():
    call_command("seed_demo", "--no-history", "--password", "pw-123456", stdout=StringIO())


def _counts():
    return (
        ComplianceRule.objects.count(),
        RuleVersion.objects.count(),
        RegulatoryEntity.objects.count(),
        RestrictedListEntry.objects.count(),
    )


def _request(code: str, symbol: str, quantity: str, client_order_id: str) -> gate.OrderRequest:
    account = Account.objects.get(code=code)
    instrument = Instrument.objects.get(symbol=symbol)
    price = instrument_latest_price(instrument).price
    body = {
        "client_order_id": client_order_id,
        "account": code,
        "instrument": symbol,
        "side": "buy",
        "order_type": "limit",
        "quantity": quantity,
        "limit_price": str(price),
        "time_in_force": "day",
        "metadata": {"signal_id": "s1"},
    }
    return gate.OrderRequest(
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        side="buy",
        order_type="limit",
        quantity=Decimal(quantity),
        limit_price=price,
        time_in_force="day",
        metadata={"signal_id": "s1"},
        body=body,
    )


def _submit_at(monkeypatch, when, req):
    """Submit through the gate as if it were `when` (the gate reads its clock from utcnow)."""
    monkeypatch.setattr(gate, "utcnow", lambda: when)
    trader = get_user_model().objects.get(username="trader")
    return gate.order_submit(req=req, user=trader)


def _checks(answer) -> dict:
    return {c["rule"]: c for c in answer.checks}


def test_seed_demo_twice_is_idempotent_and_covers_every_rule_type(db):
    _seed()
    first = _counts()
    version = RuleSetVersion.objects.get(pk=1).version
    _seed()
    assert _counts() == first
    assert RuleSetVersion.objects.get(pk=1).version == version, "nothing new, no reload"

    active = ComplianceRule.objects.filter(status=RuleStatus.ACTIVE)
    assert set(active.values_list("rule_type", flat=True)) == set(RuleType.values) | set(
        PortfolioRuleType.values
    )
    assert ComplianceRule.objects.filter(status=RuleStatus.TESTING).exists()
    assert set(RegulatoryEntity.objects.values_list("code", flat=True)) >= {
        "SEC",
        "FINRA",
        "CFTC",
        "ESMA",
        "FCA",
        "BaFin",
    }
    for rule in ComplianceRule.objects.all():
        assert rule.regulation and rule.regulatory_entity_id, rule.code
        assert rule.versions.filter(version=1).exists(), rule.code
    hold = ComplianceRule.objects.get(rule_type=RuleType.APPROVAL_THRESHOLD)
    assert hold.action == "hold" and Decimal(hold.parameters["notional"]) == 50_000
    provenance = ComplianceRule.objects.get(rule_type=RuleType.DECISION_PROVENANCE)
    assert provenance.action == "warn"
    assert RestrictedListEntry.objects.filter(instrument__isnull=False).exists()
    assert RestrictedListEntry.objects.exclude(issuer="").exists()
    # Every stored rule compiles: none stands in as an always-failing broken rule.
    ruleset = gate.ruleset_current()
    assert all(r.module.__name__.startswith("apps.rules.checks.") for r in ruleset.rules)


def _last_sunday_3am():
    now = utcnow()
    day = now - timedelta(days=(now.weekday() + 1) % 7 or 7)
    return day.replace(hour=3, minute=0, second=0, microsecond=0)


def test_crypto_order_is_accepted_at_night_on_a_sunday(db, monkeypatch):
    _seed()
    night = _last_sunday_3am()
    assert night.weekday() == 6 and night.hour == 3

    answer = _submit_at(monkeypatch, night, _request("ACC-001", "BTC-USD", "0.01", "night-1"))

    assert answer.status == "accepted", [c for c in answer.checks if c["status"] != "pass"]
    checks = _checks(answer)
    assert checks["HOURS-1"]["status"] == "pass"
    assert checks["PX-COLLAR-1"]["status"] == "pass"
    assert checks["APPROVAL-1"]["status"] == "pass"
    # The equity market is closed then, so the same hour rejects an AAPL order.
    closed = _submit_at(monkeypatch, night, _request("ACC-001", "AAPL", "100", "night-2"))
    assert closed.status == "rejected"
    assert _checks(closed)["HOURS-1"]["code"] == "market_closed"


def _last_xnas_session_hour():
    """An hour into the most recent full XNAS session before now."""
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XNAS")
    session = calendar.date_to_session(utcnow().date(), direction="previous")
    while True:
        when = calendar.session_open(session).to_pydatetime() + timedelta(hours=1)
        if when < utcnow():
            return when
        session = calendar.previous_session(session)


def test_aapl_order_is_accepted_while_xnas_is_open(db, monkeypatch):
    _seed()
    when = _last_xnas_session_hour()

    answer = _submit_at(monkeypatch, when, _request("ACC-001", "AAPL", "100", "day-1"))

    assert answer.status == "accepted", [c for c in answer.checks if c["status"] != "pass"]
    assert _checks(answer)["HOURS-1"]["status"] == "pass"


def test_simulate_flow_produces_every_outcome(db):
    _seed()
    out = StringIO()
    call_command("simulate_flow", "--orders", "60", "--seed", "1", stdout=out)

    orders = Order.objects.filter(client_order_id__startswith="sim-")
    assert orders.count() == 60
    statuses = set(orders.values_list("status", flat=True))
    assert {"rejected", "pending_approval"} <= statuses
    assert statuses & {"accepted", "partially_filled", "filled"}
    assert Fill.objects.exists()
    # Compliance worked the queue: something decided, something still waiting.
    approvals = set(
        ApprovalRequest.objects.filter(order__in=orders).values_list("status", flat=True)
    )
    assert "pending" in approvals and approvals & {"approved", "denied"}
    assert "Approval decisions:" in out.getvalue()
    assert set(orders.values_list("submitted_by__username", flat=True)) <= {"trader", "trader2"}
    # Wash-like pair: the two accounts of one beneficial owner trade at one price.
    wash = Fill.objects.filter(order__account__code__in=["ACC-001", "ACC-004"])
    pairs = {(f.order.instrument_id, f.price, f.order.side, f.order.account.code) for f in wash}
    assert any(
        (i, p, "buy", a) in pairs and (i, p, "sell", b) in pairs
        for i, p, _s, _a in pairs
        for a, b in (("ACC-001", "ACC-004"), ("ACC-004", "ACC-001"))
    )
    text = out.getvalue()
    for code in ("APPROVAL-1", "PX-COLLAR-1", "RESTRICTED-1", "ORDER-RATE-2", "MAX-NOTIONAL-1"):
        assert code in text

    # Another run with the same seed: new client order ids, nothing collides.
    call_command("simulate_flow", "--orders", "10", "--seed", "1", stdout=StringIO())
    assert Order.objects.filter(client_order_id__startswith="sim-").count() == 70


@pytest.mark.parametrize("orders", ["0", "-3"])
def test_simulate_flow_needs_a_positive_count(db, orders):
    from django.core.management.base import CommandError

    _seed()
    with pytest.raises(CommandError):
        call_command("simulate_flow", "--orders", orders, stdout=StringIO())


def test_simulate_flow_marks_sales_as_a_desk_does(db, monkeypatch):
    """With every market open: sales of shares the account does not hold go out marked short
    with a locate recorded first, and only the short-sale pattern meets the Reg SHO rules."""
    from apps.demo.management.commands import simulate_flow
    from apps.trading.models import Locate

    _seed()
    monkeypatch.setattr(simulate_flow, "market_is_open", lambda calendar, when: True)
    monkeypatch.setattr(gate, "market_is_open", lambda calendar, when: True)
    call_command("simulate_flow", "--orders", "80", "--seed", "3", stdout=StringIO())

    orders = Order.objects.filter(client_order_id__startswith="sim-").select_related("account")
    refused = sorted(
        (order.account.code, order.side, check["code"])
        for order in orders
        for check in order.checks
        if check["status"] == "fail" and check["code"] in ("mismarked_short", "locate_missing")
    )
    assert refused == [
        ("ACC-002", "sell", "mismarked_short"),
        ("ACC-002", "sell_short", "locate_missing"),
    ]
    shorts = orders.filter(side="sell_short", locate__isnull=False).select_related("locate")
    assert shorts.exists() and Locate.objects.count() == shorts.count()
    assert all(o.locate.instrument_id == o.instrument_id for o in shorts)


def test_demo_derivatives_carry_their_exchange_contract_sizes(db):
    _seed()
    sizes = dict(
        Instrument.objects.filter(asset_class__in=["option", "future"]).values_list(
            "symbol", "multiplier"
        )
    )
    assert sizes == {
        "AAPL260619C00250000": 100,  # OCC: 100 shares
        "MSFT260619P00480000": 100,
        "SAP-FUT-DEC26": 100,  # Eurex stock future: 100 shares
        "ESZ6": 50,  # CME E-mini S&P 500: USD 50 x the index
        "FESX-DEC26": 10,  # Eurex EURO STOXX 50: EUR 10 x the index
    }
    assert set(
        Instrument.objects.exclude(asset_class__in=["option", "future"]).values_list(
            "multiplier", flat=True
        )
    ) == {1}


def test_an_older_demo_database_gets_the_contract_sizes(db):
    _seed()
    Instrument.objects.filter(symbol="ESZ6").update(multiplier=1)
    _seed()
    assert Instrument.objects.get(symbol="ESZ6").multiplier == 50


def test_demo_fx_rates_are_recorded_once_while_fresh(db):
    from apps.trading.models import FxRate

    _seed()
    pairs = set(FxRate.objects.values_list("base", "quote"))
    assert {("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY")} <= pairs
    count = FxRate.objects.count()
    _seed()
    assert FxRate.objects.count() == count
    FxRate.objects.update(as_of=utcnow() - timedelta(days=2))  # grown old: a fresh tick
    _seed()
    assert FxRate.objects.count() == 2 * count


def test_a_eur_account_buys_a_usd_crypto_pair_converted(db):
    """ACC-005 (EUR) buying bitcoin (USD): valued in EUR at the demo rate, not refused."""
    _seed()
    answer = gate.order_submit(
        req=_request("ACC-005", "BTC-USD", "0.01", "eur-btc"),
        user=get_user_model().objects.get(username="trader2"),
    )
    checks = _checks(answer)
    assert checks["CREDIT-1"]["status"] == "pass", checks["CREDIT-1"]
    assert "EUR" in checks["CREDIT-1"]["message"] and "USD at" in checks["CREDIT-1"]["message"]
    assert checks["FIRM-CAPITAL-1"]["status"] == "pass"


def test_simulate_flow_records_a_market_tape_around_its_fills_and_a_ramp(db, monkeypatch):
    from apps.demo.management.commands import simulate_flow
    from apps.marketdata.models import MarketQuote, MarketTrade
    from apps.surveillance.models import Alert
    from apps.surveillance.runner import forget_warm_engine, surveillance_catch_up

    _seed()
    monkeypatch.setattr(simulate_flow, "PATTERNS", {"ramp": 5})  # the ramp fits a short run
    out = StringIO()
    call_command("simulate_flow", "--orders", "40", "--seed", "2", stdout=out)
    fills = Fill.objects.filter(exec_id__startswith="sim-")
    # every fill is a print on its venue, at its price and size, with the touch before it
    prints = {
        t.trade_id: t for t in MarketTrade.objects.filter(trade_id__in=[f.exec_id for f in fills])
    }
    assert len(prints) == fills.count()
    for fill in fills:
        assert (prints[fill.exec_id].price, prints[fill.exec_id].quantity) == (
            fill.price,
            fill.quantity,
        )
    assert MarketQuote.objects.count() == fills.count()
    assert MarketTrade.objects.count() > fills.count()  # other participants too
    assert "Market tape:" in out.getvalue()
    forget_warm_engine()
    surveillance_catch_up()
    ramp = Alert.objects.get(detector="ramping", account__code="ACC-005")
    assert ramp.instrument.symbol == "BTC-USD"
    assert ramp.evidence["details"]["move_measured_on"] == "market"


def test_seed_demo_records_the_last_hours_tape_once(db):
    from apps.demo.market_tape import seed_market_tape
    from apps.marketdata.models import MarketQuote, MarketTrade

    _seed()
    instruments = list(Instrument.objects.all())
    now = utcnow()
    trades, quotes = seed_market_tape(instruments, now=now)
    assert (
        trades > 0
        and trades == quotes == MarketTrade.objects.count() == MarketQuote.objects.count()
    )
    # a second run in the same minute adds nothing
    assert seed_market_tape(instruments, now=now) == (0, 0)
    # the tape walks around each reference price
    for trade in MarketTrade.objects.select_related("instrument")[:50]:
        reference = instrument_latest_price(trade.instrument).price
        assert abs(trade.price / reference - 1) < Decimal("0.02")
