"""Orders expire by their time in force: a day order at its venue's session close, an unfilled
ioc or fok order just after the gate, a gtd order at its time, a gtc order never. The expiry
pass (the beat job, `manage.py expire_orders`) moves each through trading's status service:
its open quantity stops counting as working exposure, an ORDER_EXPIRED event is recorded, and a
held order's approval request closes with it. Orders that are not due, or no longer working,
are left alone.
"""

import importlib
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.core.calendars import session_close_for_order
from apps.core.time import rfc3339, utcnow
from apps.rbac.roles import Role
from apps.trading import services
from apps.trading.models import Order, WorkingExposure
from apps.trading.services import order_cancel, order_create, order_expire_due, order_fill
from apps.trading.tasks import expire_orders
from config.celery import app
from tests.rules.factories import make_rule, order_body
from tests.trading.factories import InstrumentFactory, ReferencePriceFactory

ORDERS = "/api/v1/orders/"
TICK = timedelta(microseconds=1)


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


@pytest.fixture
def grace(settings):
    settings.IOC_GRACE_SECONDS = 7
    return timedelta(seconds=7)


@pytest.fixture
def btc(db):
    """A crypto pair on the round-the-clock calendar."""
    pair = InstrumentFactory(
        symbol="BTC-USD", mic="XOFF", calendar="24/7", asset_class="crypto", sector="Crypto"
    )
    ReferencePriceFactory(instrument=pair, price=Decimal("100"))
    return pair


def submit(trader, cid: str, **overrides) -> Order:
    response = trader.post(ORDERS, order_body(cid, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def fill(order: Order, quantity: str) -> None:
    order_fill(
        order=order,
        exec_id=f"{order.client_order_id}-x",
        quantity=quantity,
        price="100",
        venue="XNYS",
        executed_at=utcnow(),
        liquidity="removed",
    )


def working(order: Order) -> tuple[Decimal, Decimal]:
    row = WorkingExposure.objects.get(account=order.account, instrument=order.instrument)
    return row.buy_quantity, row.buy_notional


def expired_events(order: Order) -> list[dict]:
    rows = AuditEvent.objects.filter(
        event_type="ORDER_EXPIRED", object_type="trading.order", object_id=str(order.pk)
    )
    return [json.loads(e.record) for e in rows.order_by("seq")]


def status(order: Order) -> str:
    order.refresh_from_db()
    return order.status


# --- each time in force -----------------------------------------------------------------------


def test_a_day_order_expires_at_its_venues_close_and_stops_counting(trader):
    order = submit(trader, "day-1")
    close = session_close_for_order("XNYS", order.created_at)
    assert order.expire_at == close > order.created_at
    assert working(order) == (Decimal("10"), Decimal("1000"))

    assert order_expire_due(now=close - TICK) == 0  # a moment before the close: still working
    assert status(order) == "accepted" and working(order) == (Decimal("10"), Decimal("1000"))

    assert order_expire_due(now=close) == 1
    assert status(order) == "expired"
    assert working(order) == (Decimal("0"), Decimal("0"))
    [event] = expired_events(order)
    payload = event["payload"]
    assert payload["previous_status"] == "accepted"
    assert payload["reason"] == "day order expired at its session's close"
    assert payload["order"]["status"] == "expired"
    assert payload["order"]["expire_at"] == rfc3339(close)  # the trail says when, too


def test_a_day_order_on_an_early_close_day_expires_at_the_early_close(
    account, instrument, monkeypatch
):
    # Sent at 10:00 New York on the day after Thanksgiving 2024, when XNYS closes at 13:00.
    sent = datetime(2024, 11, 29, 15, 0, tzinfo=UTC)
    monkeypatch.setattr(services, "utcnow", lambda: sent)
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="early-1",
        side="buy",
        order_type="limit",
        quantity="10",
        limit_price="100",
        time_in_force="day",
    )
    early_close = datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert order.expire_at == early_close
    assert order_expire_due(now=early_close - TICK) == 0
    assert status(order) == "accepted"
    assert order_expire_due(now=early_close) == 1
    assert status(order) == "expired"


def test_a_day_order_on_the_round_the_clock_calendar_ends_with_the_utc_day(trader, btc):
    order = submit(trader, "btc-day", instrument="BTC-USD")
    midnight = order.created_at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )
    assert order.expire_at == midnight
    assert order_expire_due(now=midnight - TICK) == 0
    assert order_expire_due(now=midnight) == 1
    assert status(order) == "expired"


def test_an_unfilled_ioc_order_expires_once_its_grace_has_passed(trader, grace):
    order = submit(trader, "ioc-1", time_in_force="ioc")
    assert order.expire_at - order.created_at == pytest.approx(grace, abs=timedelta(seconds=1))
    assert order_expire_due(now=order.expire_at - TICK) == 0
    assert status(order) == "accepted"
    assert order_expire_due(now=order.expire_at) == 1
    assert status(order) == "expired"
    assert working(order) == (Decimal("0"), Decimal("0"))
    [event] = expired_events(order)
    assert event["payload"]["reason"] == "ioc order expired unfilled after the gate's grace"


def test_a_partially_filled_ioc_order_expires_its_rest(trader, grace):
    order = submit(trader, "ioc-part", time_in_force="ioc")
    fill(order, "4")
    assert working(order) == (Decimal("6"), Decimal("600"))
    assert order_expire_due(now=order.expire_at) == 1
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == ("expired", Decimal("4"))
    assert working(order) == (Decimal("0"), Decimal("0"))
    position = order.account.positions.get(instrument=order.instrument)
    assert position.quantity == Decimal("4")  # what traded stays traded
    [event] = expired_events(order)
    assert event["payload"]["previous_status"] == "partially_filled"


def test_an_unfilled_fok_order_expires_once_its_grace_has_passed(trader, grace):
    order = submit(trader, "fok-1", time_in_force="fok")
    assert order_expire_due(now=order.created_at + grace - timedelta(seconds=2)) == 0
    assert order_expire_due(now=order.expire_at) == 1
    assert status(order) == "expired"


def test_a_gtd_order_expires_at_its_own_time_not_at_the_close(trader):
    when = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    # Given in New York's winter offset: stored as the same instant.
    given = when.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert given.endswith("-05:00")
    order = submit(trader, "gtd-1", time_in_force="gtd", expire_at=given)
    assert order.expire_at == when
    close = session_close_for_order("XNYS", order.created_at)
    assert order_expire_due(now=close) == 0  # a day order would have gone here
    assert order_expire_due(now=when - TICK) == 0
    assert status(order) == "accepted"
    assert order_expire_due(now=when) == 1
    assert status(order) == "expired"
    [event] = expired_events(order)
    assert event["payload"]["reason"] == "gtd order expired at its expire_at"


def test_a_gtc_order_never_expires(trader):
    order = submit(trader, "gtc-1", time_in_force="gtc")
    assert order.expire_at is None
    assert order_expire_due(now=utcnow() + timedelta(days=800)) == 0
    assert status(order) == "accepted"
    assert working(order) == (Decimal("10"), Decimal("1000"))


def test_the_order_api_shows_when_an_order_expires(trader):
    order = submit(trader, "show-1", time_in_force="gtc")
    assert trader.get(f"{ORDERS}{order.pk}/").json()["expire_at"] is None
    day = submit(trader, "show-2")
    shown = trader.get(f"{ORDERS}{day.pk}/").json()["expire_at"]
    assert datetime.fromisoformat(shown) == day.expire_at and shown.endswith("Z")


# --- held orders ------------------------------------------------------------------------------


def test_a_held_order_counts_as_working_until_it_expires_and_its_request_closes(
    trader, api_client_for
):
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 600}, action="hold")
    when = (utcnow() + timedelta(seconds=120)).replace(microsecond=0)
    order = submit(trader, "held-gtd", time_in_force="gtd", expire_at=when.isoformat())
    assert order.status == "pending_approval"
    approval = ApprovalRequest.objects.get(order=order)
    assert approval.expires_at > when  # the order's own time comes before the approver's

    assert order_expire_due(now=when - TICK) == 0
    assert working(order) == (Decimal("10"), Decimal("1000"))  # held: still working

    assert order_expire_due(now=when) == 1
    assert status(order) == "expired"
    assert working(order) == (Decimal("0"), Decimal("0"))
    approval.refresh_from_db()
    assert approval.status == "canceled" and approval.decided_by is None
    assert "expired" in approval.comment
    closed = AuditEvent.objects.get(event_type="APPROVAL_CANCELED")
    assert json.loads(closed.record)["payload"]["order_status"] == "expired"

    # An officer arriving afterwards is told the order ended; nothing is released.
    officer = api_client_for(Role.COMPLIANCE_OFFICER)
    response = officer.post(
        f"/api/v1/approvals/{approval.pk}/approve/", {"comment": "ok"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "approval_not_pending"
    assert "expired" in response.json()["error"]["message"]
    assert status(order) == "expired"


def test_an_approval_after_the_orders_own_expiry_releases_nothing(trader, api_client_for):
    """The officer comes by after the order's time but before the expiry job: the order is
    expired then and there, not released to the market."""
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 600}, action="hold")
    when = (utcnow() + timedelta(seconds=120)).replace(microsecond=0)
    order = submit(trader, "held-late", time_in_force="gtd", expire_at=when.isoformat())
    Order.objects.filter(pk=order.pk).update(expire_at=utcnow() - timedelta(seconds=1))
    approval = ApprovalRequest.objects.get(order=order)
    officer = api_client_for(Role.COMPLIANCE_OFFICER)
    response = officer.post(
        f"/api/v1/approvals/{approval.pk}/approve/", {"comment": "fine"}, format="json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "approval_not_pending" and error["details"]["status"] == "canceled"
    assert "expired" in error["message"]
    assert status(order) == "expired"
    assert working(order) == (Decimal("0"), Decimal("0"))
    assert not AuditEvent.objects.filter(event_type="APPROVAL_GRANTED").exists()
    assert len(expired_events(order)) == 1
    assert order_expire_due() == 0


def test_a_held_ioc_order_does_not_wait_for_an_approver(trader, grace):
    make_rule("approval_threshold", {"notional": "500", "ttl_seconds": 600}, action="hold")
    order = submit(trader, "held-ioc", time_in_force="ioc")
    assert order.status == "pending_approval"
    assert order_expire_due(now=order.expire_at) == 1
    assert status(order) == "expired"
    assert ApprovalRequest.objects.get(order=order).status == "canceled"


# --- look-alikes that must not expire ---------------------------------------------------------


def test_a_filled_order_is_untouched(trader, grace):
    order = submit(trader, "ioc-full", time_in_force="ioc")
    fill(order, "10")
    assert order_expire_due(now=order.expire_at + timedelta(days=1)) == 0
    assert status(order) == "filled" and expired_events(order) == []


def test_canceled_and_rejected_orders_are_untouched(trader):
    canceled = submit(trader, "cxl-1")
    order_cancel(order=canceled, reason="desk")
    make_rule("order_size", {"max_quantity": "5"})
    rejected = submit(trader, "rej-1")
    assert rejected.status == "rejected" and rejected.expire_at is not None
    events = AuditEvent.objects.count()
    assert order_expire_due(now=utcnow() + timedelta(days=10)) == 0
    assert (status(canceled), status(rejected)) == ("canceled", "rejected")
    assert AuditEvent.objects.count() == events


def test_a_second_pass_expires_nothing_more(trader):
    orders = [submit(trader, f"twice-{n}") for n in range(3)]
    later = submit(trader, "twice-gtc", time_in_force="gtc")
    after_close = max(o.expire_at for o in orders)
    assert order_expire_due(now=after_close) == 3
    events = AuditEvent.objects.count()
    assert order_expire_due(now=after_close) == 0
    assert AuditEvent.objects.count() == events
    assert status(later) == "accepted"


# --- the beat job and the command -------------------------------------------------------------


def test_the_beat_job_is_scheduled_and_runs_as_the_system(trader, grace):
    spec = settings.PERIODIC_TASKS["order expiry"]
    assert spec["task"] == "trading.expire_orders" and 15 <= spec["every"] <= 30
    app.loader.import_default_modules()
    assert "trading.expire_orders" in app.tasks

    due = submit(trader, "beat-ioc", time_in_force="ioc")
    Order.objects.filter(pk=due.pk).update(expire_at=utcnow() - timedelta(seconds=1))
    not_due = submit(trader, "beat-day")
    assert expire_orders.delay().get() == 1
    assert (status(due), status(not_due)) == ("expired", "accepted")
    [event] = AuditEvent.objects.filter(event_type="ORDER_EXPIRED")
    assert event.actor == "task:trading.expire_orders"


def test_setup_schedules_writes_the_job(db):
    from django_celery_beat.models import PeriodicTask

    call_command("setup_schedules", stdout=io.StringIO())
    job = PeriodicTask.objects.get(name="order expiry")
    assert job.task == "trading.expire_orders" and job.interval.every == 15


def test_the_command_runs_one_pass(trader):
    order = submit(trader, "cmd-day")
    Order.objects.filter(pk=order.pk).update(expire_at=utcnow() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("expire_orders", stdout=out)
    assert "1 order(s) expired" in out.getvalue()
    assert status(order) == "expired"
    [event] = AuditEvent.objects.filter(event_type="ORDER_EXPIRED")
    assert event.actor == "command:expire_orders"
    out = io.StringIO()
    call_command("expire_orders", stdout=out)
    assert "0 order(s) expired" in out.getvalue()


def test_one_order_that_cannot_expire_does_not_stop_the_others(trader, monkeypatch):
    first, second = submit(trader, "fail-1"), submit(trader, "fail-2")
    real = services.order_status_set

    def failing(*, order, **kwargs):
        if order.pk == first.pk:
            raise RuntimeError("boom")
        return real(order=order, **kwargs)

    monkeypatch.setattr(services, "order_status_set", failing)
    assert order_expire_due(now=max(first.expire_at, second.expire_at)) == 1
    assert (status(first), status(second)) == ("accepted", "expired")
    assert working(first) == (Decimal("10"), Decimal("1000"))  # still counted: fail safe


# --- orders from before expiry existed --------------------------------------------------------


def test_orders_working_before_the_upgrade_get_the_expiry_they_were_owed(trader, grace):
    day, ioc, gtc = (
        submit(trader, "old-day"),
        submit(trader, "old-ioc", time_in_force="ioc"),
        submit(trader, "old-gtc", time_in_force="gtc"),
    )
    done = submit(trader, "old-done")
    order_cancel(order=done, reason="desk")
    Order.objects.update(expire_at=None)
    migration = importlib.import_module("apps.trading.migrations.0003_order_expiry")
    migration.backfill_expire_at(django_apps, None)
    for order in (day, ioc, gtc, done):
        order.refresh_from_db()
    assert day.expire_at == session_close_for_order("XNYS", day.created_at)
    assert ioc.expire_at == ioc.created_at + grace
    assert gtc.expire_at is None and done.expire_at is None
