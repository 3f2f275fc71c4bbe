"""Every report type in every format builds from awkward data, through the API, never a 500:
a day with no fills at all, and a day with fills on an instrument with no reference price or
close, in a currency with no FX rate, on an order nobody submitted, for an account with no LEI
and a category loaded from elsewhere, orders whose stored checks and metadata are not what the
gate writes, kill switches set by the system or by no one recorded, an approval still pending,
and a trader since deactivated."""

import pytest

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_request_create
from apps.killswitch.models import KillSwitch
from apps.killswitch.services import kill_switch_activate
from apps.rbac.roles import Role
from apps.reporting.builders import BUILDERS
from apps.trading.models import Account, Order
from apps.trading.services import order_create
from tests.reporting.factories import DAY, at, book_fill
from tests.trading.factories import AccountFactory, InstrumentFactory, OptionFactory

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"
CASES = [(t, f) for t, builder in BUILDERS.items() for f in builder.formats]


@pytest.fixture
def awkward_day(make_user):
    trader = make_user(Role.TRADER)
    odd = AccountFactory(code="ACC-ODD", base_currency="CHF")  # no LEI, no CHF rate
    Account.objects.filter(pk=odd.pk).update(client_category="")  # loaded, not validated
    no_price = InstrumentFactory(symbol="NOREF", currency="JPY")  # no reference, no close
    option = OptionFactory(symbol="OPTX")
    unsubmitted = book_fill(
        account=odd,
        instrument=no_price,
        side="buy",
        quantity="3",
        price="1500",
        executed_at=at(DAY, "09:00"),
        trader=None,
        metadata={"decision_source": "algo"},  # an algorithm with no strategy named
    )
    book_fill(
        account=odd,
        instrument=option,
        side="sell",
        quantity="2",
        price="4.1",
        executed_at=at(DAY, "10:00"),
        trader=trader,
        venue="XOFF",
        counterparty_lei="529900LN3S50JPU47S06",  # an off-venue fill names its counterparty
    )
    # what the gate never writes, but a database may hold
    Order.objects.filter(pk=unsubmitted.order_id).update(metadata=["not", "a", "dict"])
    stray = order_create(
        account=odd,
        instrument=no_price,
        client_order_id="odd-checks",
        side="buy",
        order_type="limit",
        quantity="1",
        limit_price="1500",
        status="rejected",
        checks=[],
        check_duplicate=False,
    )
    Order.objects.filter(pk=stray.pk).update(
        checks=["garbage", {"status": "fail"}], created_at=at(DAY, "11:00")
    )
    held = order_create(
        account=odd,
        instrument=no_price,
        client_order_id="odd-held",
        side="buy",
        order_type="limit",
        quantity="1",
        limit_price="1500",
        status="pending_approval",
        checks=[{"rule": "HOLD-1", "status": "fail", "action": "hold"}],
        submitted_by=trader,
        check_duplicate=False,
    )
    request = approval_request_create(order=held, rules=held.checks)  # never decided
    Order.objects.filter(pk=held.pk).update(created_at=at(DAY, "11:30"))
    ApprovalRequest.objects.filter(pk=request.pk).update(requested_at=at(DAY, "11:30"))
    for control in ("surveillance", ""):  # the second: no user, no control recorded
        switch = kill_switch_activate(
            scope="account",
            target="ACC-ODD",
            state="halted",
            reason="automated",
            actor=None,
            control="surveillance",
        )
        KillSwitch.objects.filter(pk=switch.pk).update(
            activated_at=at(DAY, "12:00"), activated_by_system=control
        )
    trader.is_active = False
    trader.save(update_fields=["is_active"])
    return odd


def _generate(client, report_type, fmt):
    extra = {}
    if report_type == "blue_sheets":  # on request, for a symbol (the option when it trades)
        InstrumentFactory(symbol="OPTX")
        extra = {"symbol": "OPTX", "request_reference": "EDGE-1"}
    return client.post(
        REPORTS,
        {
            "report_type": report_type,
            "period_start": str(DAY),
            "period_end": str(DAY),
            "format": fmt,
            **extra,
        },
        format="json",
    )


def _built_and_downloaded(client, report_type, fmt) -> dict:
    response = _generate(client, report_type, fmt)
    if report_type in ("mifir_transactions", "cat_events") and response.status_code in (400, 409):
        # MiFIR may refuse what it cannot report (its own checks), and a day with nothing
        # reportable has no file (MiFIR, CAT): either way with the error body, never a crash
        assert response.json()["error"]["code"]
        return {}
    assert response.status_code == 201, response.content
    report = response.json()
    download = client.get(report["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content)
    return report


@pytest.mark.parametrize(("report_type", "fmt"), CASES)
def test_every_report_builds_on_a_day_with_no_fills(api_client_for, report_type, fmt):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    report = _built_and_downloaded(client, report_type, fmt)
    if report and report_type in ("daily_trading", "positions", "best_execution"):
        assert report["record_count"] == 0


@pytest.mark.parametrize(("report_type", "fmt"), CASES)
def test_every_report_builds_on_an_awkward_day(api_client_for, awkward_day, report_type, fmt):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    report = _built_and_downloaded(client, report_type, fmt)
    if report_type == "daily_trading":
        assert report["record_count"] == 2
    if report_type == "blue_sheets":
        assert report["record_count"] == 1


def test_what_the_awkward_day_reads_as(api_client_for, awkward_day):
    from apps.reporting.models import RegulatoryReport
    from tests.reporting.helpers import csv_rows

    client = api_client_for(Role.COMPLIANCE_OFFICER)
    for report_type in ("daily_trading", "positions", "best_execution", "compliance"):
        _built_and_downloaded(client, report_type, "csv")
    officer = RegulatoryReport.objects.first().generated_by

    def rows(report_type):
        return csv_rows(RegulatoryReport.objects.get(report_type=report_type), officer)

    trading = {r["symbol"]: r for r in rows("daily_trading")}
    assert trading["NOREF"]["trader"] == ""  # nobody submitted it
    positions = {r["symbol"]: r for r in rows("positions")}
    assert positions["NOREF"]["mark_source"] == "last_fill"
    # a category that is none of the three is treated as retail
    assert {r["client_category"] for r in rows("best_execution")} == {"retail"}
    compliance = {(r["section"], r["item"]): r["value"] for r in rows("compliance")}
    assert compliance[("kill_switch", "events")] == "2"
    switches = sorted(
        r["value"]
        for r in rows("compliance")
        if r["section"] == "kill_switch" and "Z " in r["item"]
    )
    assert switches[0].startswith("halted by system (surveillance): automated")
    assert switches[1].startswith("halted by unknown: automated")
    assert compliance[("decisions", "rejected")] == "1"  # the stray order, checks unreadable
    assert compliance[("decisions", "held for approval")] == "1"
    assert compliance[("held_orders", "pending")] == "1"
