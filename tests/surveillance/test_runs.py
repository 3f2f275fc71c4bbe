"""The incremental run over the database's stream: split anywhere, it finds what one replay
finds; overlapping runs store once; the loop back into trading; drop copies reconciled."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.core.time import utcnow
from apps.killswitch.models import KillSwitch
from apps.rbac.roles import Role
from apps.surveillance import runner
from apps.surveillance.models import Alert, DetectorConfig, Occurrence, SurveillanceCursor
from apps.surveillance.runner import (
    forget_warm_engine,
    surveillance_catch_up,
    surveillance_replay,
    surveillance_run,
)
from apps.surveillance.services import detector_configs_ensure, execution_report_record


def manipulative_flow(desk):
    """A wash trade, a spoof, a layer, rapid fire and drop copies the gate never saw.

    Concentration is switched off here (these books are tiny and lopsided; it has its tests)."""
    detector_configs_ensure()
    DetectorConfig.objects.filter(detector="concentration").update(enabled=False)
    # wash trade across two accounts of one owner, matched
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a2, "sell", "10")
    # spoofing: a usual size, then a huge order pulled at once while a sell fills
    for _ in range(6):
        desk.order(desk.b, "buy", "10", "99")
    sell = desk.order(desk.b, "sell", "10", "101")
    spoof = desk.order(desk.b, "buy", "1000", "99.5")
    desk.fill(sell)
    desk.cancel(spoof)
    # layering by ACC-T2 in MSFT: three bids, a sell execution, the bids pulled
    bids = [desk.order(desk.a2, "buy", "5", p, desk.msft) for p in ("399", "398", "397")]
    desk.trade(desk.a2, "sell", "5", "401", desk.msft)
    for bid in bids:
        desk.cancel(bid)
    # rapid fire: 61 orders from ACC-B within the minute
    for _ in range(61):
        desk.order(desk.b, "buy", "1", "95")
    # a drop copy of an order the gate never saw
    execution_report_record(
        account=desk.a1,
        instrument=desk.aapl,
        client_order_id="ghost-1",
        exec_id="V-1",
        side="buy",
        quantity="5",
        price="100",
        venue="XNYS",
        executed_at=utcnow(),
    )


def recorded() -> set[tuple]:
    return set(Occurrence.objects.values_list("alert__detector", "dedup_key", "seq"))


@pytest.mark.django_db
def test_one_pass_finds_every_injected_pattern(desk):
    manipulative_flow(desk)
    call_command("run_surveillance")
    detectors = set(Alert.objects.values_list("detector", flat=True))
    assert detectors == {"wash_trade", "spoofing", "layering", "rapid_fire", "gate_reconciliation"}
    assert Alert.objects.count() == 5  # one alert per pattern, not one per order
    raised = AuditEvent.objects.filter(event_type="SURVEILLANCE_ALERT").count()
    assert raised == 5
    first_alert = AuditEvent.objects.filter(event_type="SURVEILLANCE_ALERT").order_by("seq")[0]
    assert SurveillanceCursor.objects.get().last_seq >= first_alert.seq - 1
    # a second pass reads only what came after (its own alerts) and finds nothing new
    call_command("run_surveillance")
    assert Alert.objects.count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [1, 7, 23])
@pytest.mark.parametrize("restart", [True, False], ids=["cold", "warm"])
def test_runs_split_at_awkward_points_find_what_one_replay_finds(desk, batch, restart, monkeypatch):
    """Cold: every run in a new process (the windows read again from the trail); warm: one
    process going on from its engine."""
    warm_ups = []
    real = runner._warm_up_from
    monkeypatch.setattr(runner, "_warm_up_from", lambda seq: warm_ups.append(seq) or real(seq))
    manipulative_flow(desk)
    now = utcnow()
    findings, _, _ = surveillance_replay(
        start=now - timedelta(hours=1), end=now + timedelta(hours=1), store=False
    )
    expected = {(f.detector, f.key, f.seq) for f in findings}
    assert {d for d, _, _ in expected} >= {"wash_trade", "spoofing", "layering", "rapid_fire"}
    forget_warm_engine()
    warm_ups.clear()
    steps = 0
    while True:
        if restart:
            forget_warm_engine()
        result = surveillance_run(batch=batch)
        if result.to_seq == result.from_seq:
            break
        steps += 1
    assert steps > 1
    assert recorded() == expected
    assert len(warm_ups) == (steps if restart else 1)


@pytest.mark.django_db
def test_a_replay_over_an_analysed_range_records_nothing_twice(desk):
    manipulative_flow(desk)
    surveillance_catch_up()
    before = (Alert.objects.count(), Occurrence.objects.count())
    now = utcnow()
    _, raised, added = surveillance_replay(
        start=now - timedelta(hours=1), end=now + timedelta(hours=1)
    )
    assert (raised, added) == ([], [])
    assert (Alert.objects.count(), Occurrence.objects.count()) == before


@pytest.mark.django_db
def test_a_run_overtaken_by_another_stores_nothing(desk, monkeypatch):
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a1, "sell", "10")
    real = runner.findings_between

    def overtaken(**kwargs):
        found = real(**kwargs)
        SurveillanceCursor.objects.update(last_seq=kwargs["up_to_seq"])  # the other run
        return found

    monkeypatch.setattr(runner, "findings_between", overtaken)
    result = surveillance_run()
    assert result.overtaken and result.raised == []
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_a_pattern_recurring_while_open_adds_to_its_alert(desk):
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a1, "sell", "10")
    surveillance_catch_up()
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a1, "sell", "10")  # a second cross: the first pair's fills are used up
    surveillance_catch_up()
    alert = Alert.objects.get()
    assert alert.occurrences == 2 and len(alert.evidence["fills"]) == 4
    assert AuditEvent.objects.filter(event_type="ALERT_UPDATED").count() == 1


@pytest.mark.django_db
def test_critical_finding_halts_the_account_with_the_alert_as_reason(desk, api_client_for):
    configs = detector_configs_ensure()
    DetectorConfig.objects.filter(pk=configs["wash_trade"].pk).update(critical_action="halted")
    desk.trade(desk.a1, "buy", "10")
    desk.trade(desk.a1, "sell", "10")
    surveillance_catch_up()
    alert = Alert.objects.get()
    switch = KillSwitch.objects.get(is_active=True)
    assert (switch.scope, switch.target, switch.state) == ("account", "ACC-T1", "halted")
    assert switch.activated_by is None and switch.activator == "surveillance"
    assert f"#{alert.pk}" in switch.reason and alert.evidence["kill_switch"] == switch.pk
    event = AuditEvent.objects.get(event_type="KILL_SWITCH_ACTIVATED")
    assert event.actor == "surveillance" and f'"alert":{alert.pk}' in event.record
    # the gate now refuses the account's next order
    trader = api_client_for(Role.TRADER)
    from tests.rules.factories import order_body

    answer = trader.post("/api/v1/orders/", order_body("after-halt"), format="json").json()
    assert answer["status"] == "rejected"
    assert any(c["rule_type"] == "kill_switch" for c in answer["checks"]), answer
    # a Risk Manager may lift it (no four-eyes conflict with a control)
    risk = api_client_for(Role.RISK_MANAGER)
    response = risk.post(
        f"/api/v1/kill-switch/{switch.pk}/deactivate/", {"comment": "cleared"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["activated_by"] == "surveillance"


@pytest.mark.django_db
def test_warning_findings_by_default_only_alert(desk):
    for _ in range(61):
        desk.order(desk.b, "buy", "1", "95")
    surveillance_catch_up()
    assert Alert.objects.get().detector == "rapid_fire"
    assert not KillSwitch.objects.exists()


@pytest.mark.django_db
def test_drop_copies_reconciled_against_the_gate(desk):
    rejected = desk.order(desk.a1, "buy", "10", status="rejected")
    accepted = desk.order(desk.a1, "buy", "10")
    common = {"instrument": desk.aapl, "side": "buy", "price": "100", "venue": "XNYS"}
    execution_report_record(
        account=desk.a1,
        client_order_id=rejected.client_order_id,
        exec_id="V-1",
        quantity="10",
        executed_at=utcnow(),
        **common,
    )
    for n, quantity in enumerate(["6", "6"]):  # 12 of 10: an overfill on the second
        execution_report_record(
            account=desk.a1,
            client_order_id=accepted.client_order_id,
            exec_id=f"V-{n + 2}",
            quantity=quantity,
            executed_at=utcnow(),
            **common,
        )
    surveillance_catch_up()
    kinds = sorted(a.evidence["details"]["finding"] for a in Alert.objects.all())
    assert kinds == ["overfill", "risk_override"]
    assert all(a.severity == "critical" for a in Alert.objects.all())


@pytest.mark.django_db
def test_a_sale_is_a_sale_however_it_is_marked(desk):
    """Detectors compare directions: a long sale and a short sale are the same side."""
    detector_configs_ensure()
    DetectorConfig.objects.filter(detector="concentration").update(enabled=False)
    # Look-alike: two sales by one owner seconds apart, one marked short: no wash trade.
    desk.trade(desk.a1, "sell", "10")
    desk.trade(desk.a2, "sell_short", "10")
    desk.trade(desk.a2, "sell_short_exempt", "10")
    call_command("run_surveillance")
    assert not Alert.objects.exists()
    # A buy against the short sale is one.
    desk.trade(desk.a1, "buy", "10")
    call_command("run_surveillance")
    assert list(Alert.objects.values_list("detector", flat=True)) == ["wash_trade"]
    # Layering: bids stacked by ACC-B, a short sale executed into them, the bids pulled.
    bids = [desk.order(desk.b, "buy", "5", p, desk.msft) for p in ("399", "398", "397")]
    desk.trade(desk.b, "sell_short", "5", "401", desk.msft)
    for bid in bids:
        desk.cancel(bid)
    call_command("run_surveillance")
    layering = Alert.objects.get(detector="layering")
    assert "sell execution" in layering.title and "3 buy orders" in layering.title
