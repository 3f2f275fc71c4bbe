"""Fills corrected or busted after booking (Compliance Officer): the fill keeps its first values
and the trail both versions; the order, working exposure, day's filled notional and position
follow as if the fill had been booked as corrected, or never; bad input stores nothing."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.trading.models import (
    AccountDailyFilled,
    Fill,
    Order,
    OrderStatus,
    Position,
    WorkingExposure,
)
from apps.trading.services import fill_bust, fill_correct, order_create, order_fill
from tests.permissions import assert_api_role_required
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def book(db):
    account = AccountFactory(code="ACC-FX1")
    instrument = InstrumentFactory(symbol="CORR", mic="XNYS")
    ReferencePriceFactory(instrument=instrument, price=D("100"))
    counter = iter(range(1, 100))

    def fill(side: str, quantity: str, price: str, order_quantity: str | None = None):
        n = next(counter)
        order = order_create(
            account=account,
            instrument=instrument,
            client_order_id=f"corr-{n}",
            side=side,
            order_type="limit",
            quantity=order_quantity or quantity,
            limit_price="120" if side == "buy" else "80",
            reference_price=D("100"),
            check_duplicate=False,
        )
        Order.objects.filter(pk=order.pk).update(created_at=utcnow() - timedelta(minutes=5))
        order.refresh_from_db()
        booked, _ = order_fill(
            order=order,
            exec_id=f"corr-exec-{n}",
            quantity=quantity,
            price=price,
            venue="XNYS",
            executed_at=utcnow() - timedelta(minutes=1),
            liquidity="removed",
        )
        return booked

    return {"account": account, "instrument": instrument, "fill": fill}


def position(book) -> Position:
    return Position.objects.get(account=book["account"], instrument=book["instrument"])


def filled_notional(book) -> Decimal:
    return sum(
        (r.filled_notional for r in AccountDailyFilled.objects.filter(account=book["account"])),
        D("0"),
    )


def payloads(event_type: str) -> list[dict]:
    events = AuditEvent.objects.filter(event_type=event_type).order_by("seq")
    return [json.loads(e.record)["payload"] for e in events]


def test_a_correction_is_as_if_booked_corrected(book, officer):
    first = book["fill"]("buy", "10", "100")
    book["fill"]("buy", "10", "110")
    book["fill"]("sell", "5", "115")
    fill_correct(fill=first, quantity="6", price="101", reason="venue correction", actor=officer)
    # Booked as corrected: buy 6@101, buy 10@110, sell 5@115.
    pos = position(book)
    assert pos.quantity == D("11")
    average = (D("6") * 101 + D("10") * 110) / 16
    assert pos.average_cost == average.quantize(pos.average_cost)
    assert pos.realised_pnl == (5 * (D("115") - pos.average_cost)).quantize(pos.realised_pnl)
    first.refresh_from_db()
    assert (first.quantity, first.price, first.version) == (D("6"), D("101"), 2)
    assert (first.original_quantity, first.original_price) == (D("10"), D("100"))
    assert first.change_reason == "venue correction"
    order = first.order
    order.refresh_from_db()
    assert (order.filled_quantity, order.avg_fill_price, order.status) == (
        D("6"),
        D("101"),
        OrderStatus.PARTIALLY_FILLED,
    )
    # The order was for 10: 4 reopen as working exposure.
    exposure = WorkingExposure.objects.get(account=book["account"], instrument=book["instrument"])
    assert exposure.buy_quantity == D("4")
    assert filled_notional(book) == D("6") * 101 + D("10") * 110 + D("5") * 115
    corrected = payloads("FILL_CORRECTED")[-1]
    assert corrected["before"]["quantity"] == "10" and corrected["after"]["quantity"] == "6"
    assert corrected["reason"] == "venue correction" and corrected["version"] == 2
    assert payloads("POSITION_CHANGED")[-1]["after"]["quantity"] == "11"


def test_a_bust_reverses_the_fill(book, officer):
    book["fill"]("buy", "10", "100")
    busted = book["fill"]("buy", "5", "110")
    before_bust = filled_notional(book)
    fill_bust(fill=busted, reason="erroneous trade", actor=officer)
    pos = position(book)
    assert (pos.quantity, pos.average_cost, pos.realised_pnl) == (D("10"), D("100"), D("0"))
    busted.refresh_from_db()
    assert busted.status == "busted" and busted.quantity == D("5")  # kept as booked
    order = busted.order
    order.refresh_from_db()
    assert (order.filled_quantity, order.avg_fill_price, order.status) == (
        D("0"),
        None,
        OrderStatus.ACCEPTED,
    )
    assert filled_notional(book) == before_bust - D("550")
    event = payloads("FILL_BUSTED")[-1]
    assert event["status"] == "busted" and event["before"]["quantity"] == "5"
    with pytest.raises(Conflict) as again:
        fill_bust(fill=busted, reason="twice", actor=officer)
    assert again.value.code == "fill_busted"
    with pytest.raises(Conflict):
        fill_correct(fill=busted, quantity="1", price="100", reason="x", actor=officer)


def test_bad_corrections_store_nothing(book, officer):
    fill = book["fill"]("buy", "10", "100")
    events = AuditEvent.objects.count()
    for bad in (
        {"quantity": "0", "price": "100"},
        {"quantity": "11", "price": "100"},  # more than the order
        {"quantity": "10", "price": "121"},  # above the buy's limit
        {"quantity": "10", "price": "100"},  # no change
        {"quantity": "abc", "price": "100"},
    ):
        with pytest.raises(ValidationFailed):
            fill_correct(fill=fill, reason="r", actor=officer, **bad)
    with pytest.raises(ValidationFailed):
        fill_correct(fill=fill, quantity="9", price="100", reason="  ", actor=officer)
    with pytest.raises(ValidationFailed):
        fill_bust(fill=fill, reason="", actor=officer)
    fill.refresh_from_db()
    assert (fill.quantity, fill.version, fill.status) == (D("10"), 1, "active")
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_only_a_compliance_officer_corrects_or_busts(book, make_user, role):
    fill = book["fill"]("buy", "10", "100")
    with pytest.raises(PermissionDenied):
        fill_correct(fill=fill, quantity="9", price="100", reason="r", actor=make_user(role))
    with pytest.raises(PermissionDenied):
        fill_bust(fill=fill, reason="r", actor=make_user(role))
    assert Fill.objects.get(pk=fill.pk).status == "active"


# --- the API -----------------------------------------------------------------------------------


def test_correct_and_bust_over_the_api(api_client_for, book):
    fill = book["fill"]("buy", "10", "100")
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    corrected = client.post(
        f"/api/v1/fills/{fill.pk}/correct/",
        {"quantity": "8", "price": "100.5", "reason": "venue correction"},
        format="json",
    )
    assert corrected.status_code == 200, corrected.json()
    body = corrected.json()
    assert (body["quantity"], body["original_quantity"], body["version"]) == ("8", "10", 2)
    assert body["position"]["quantity"] == "8"
    busted = client.post(f"/api/v1/fills/{fill.pk}/bust/", {"reason": "bust"}, format="json")
    assert busted.status_code == 200 and busted.json()["status"] == "busted"
    assert busted.json()["position"]["quantity"] == "0"
    again = client.post(f"/api/v1/fills/{fill.pk}/bust/", {"reason": "bust"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "fill_busted"


def test_api_bad_input_and_unknown_fill(api_client_for, book):
    fill = book["fill"]("buy", "10", "100")
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    url = f"/api/v1/fills/{fill.pk}/correct/"
    for bad in (
        {"quantity": "8", "price": "100"},  # no reason
        {"quantity": 8.5, "price": "100", "reason": "r"},  # a float, not a decimal string
        {"quantity": "8", "price": "-1", "reason": "r"},
    ):
        response = client.post(url, bad, format="json")
        assert response.status_code == 400, (bad, response.status_code)
        assert "code" in response.json()["error"]
    missing = client.post("/api/v1/fills/999999/correct/", {"quantity": "1", "price": "1",
                          "reason": "r"}, format="json")  # fmt: skip
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "fill_not_found"
    assert (
        client.post("/api/v1/fills/999999/bust/", {"reason": "r"}, format="json").status_code == 404
    )
    fill.refresh_from_db()
    assert (fill.quantity, fill.version) == (D("10"), 1)


def test_the_endpoints_need_compliance_officer(api_client_for, book):
    fill = book["fill"]("buy", "10", "100")
    assert_api_role_required(
        api_client_for,
        "post",
        f"/api/v1/fills/{fill.pk}/bust/",
        Role.COMPLIANCE_OFFICER,
        {"reason": "erroneous"},
    )
    other = book["fill"]("buy", "10", "100")
    assert_api_role_required(
        api_client_for,
        "post",
        f"/api/v1/fills/{other.pk}/correct/",
        Role.COMPLIANCE_OFFICER,
        {"quantity": "9", "price": "100", "reason": "r"},
    )


def test_busted_fills_leave_the_reports(book, officer, tmp_path, settings):
    from apps.reporting.services import report_generate
    from tests.reporting.helpers import csv_rows

    settings.MEDIA_ROOT = tmp_path
    kept = book["fill"]("buy", "10", "100")
    busted = book["fill"]("buy", "5", "110")
    fill_bust(fill=busted, reason="erroneous", actor=officer)
    day = kept.executed_at.date()
    report = report_generate(
        report_type="daily_trading", period_start=day, period_end=day, fmt="csv", actor=officer
    )
    assert [r["exec_id"] for r in csv_rows(report, officer)] == [kept.exec_id]
