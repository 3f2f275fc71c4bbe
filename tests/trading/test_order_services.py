"""The order services: validation before anything is stored, and the derived rows they keep."""

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.errors import Conflict, ValidationFailed
from apps.core.time import utcnow
from apps.trading.models import Fill, Order, OrderStatus, Position, WorkingExposure
from apps.trading.services import (
    order_amend,
    order_cancel,
    order_create,
    order_fill,
    order_status_set,
)
from tests.trading.factories import AccountFactory, InstrumentFactory

D = Decimal
_ids = itertools.count(1)


def create(account, instrument, **overrides) -> Order:
    """A buy limit 100 @ 10 unless told otherwise."""
    kwargs = {
        "account": account,
        "instrument": instrument,
        "client_order_id": f"cl-{next(_ids)}",
        "side": "buy",
        "order_type": "limit",
        "quantity": "100",
        "limit_price": "10",
    }
    kwargs.update(overrides)
    return order_create(**kwargs)


def fill(order, quantity="100", price="10", **overrides):
    kwargs = {
        "order": order,
        "exec_id": f"ex-{next(_ids)}",
        "quantity": quantity,
        "price": price,
        "venue": "XNYS",
        "executed_at": utcnow(),
        "liquidity": "removed",
    }
    kwargs.update(overrides)
    return order_fill(**kwargs)


def exposure(account, instrument) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    row = WorkingExposure.objects.filter(account=account, instrument=instrument).first()
    if row is None:
        return D("0"), D("0"), D("0"), D("0")
    return row.buy_quantity, row.buy_notional, row.sell_quantity, row.sell_notional


# --- order_create: refused input stores nothing -------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"quantity": "0"}, "quantity", id="zero-quantity"),
        pytest.param({"quantity": "-5"}, "quantity", id="negative-quantity"),
        pytest.param({"quantity": "abc"}, "quantity", id="non-numeric-quantity"),
        pytest.param({"quantity": "NaN"}, "quantity", id="nan-quantity"),
        pytest.param({"quantity": "Infinity"}, "quantity", id="infinite-quantity"),
        pytest.param({"quantity": 1.5}, "quantity", id="float-quantity"),
        pytest.param({"quantity": "1e30"}, "quantity", id="out-of-range-quantity"),
        pytest.param({"quantity": 1e30}, "quantity", id="out-of-range-float-quantity"),
        pytest.param({"quantity": "0.000000001"}, "quantity", id="nine-decimals-quantity"),
        pytest.param({"limit_price": None}, "limit_price", id="limit-without-price"),
        pytest.param({"limit_price": "0"}, "limit_price", id="limit-price-zero"),
        pytest.param(
            {"order_type": "market", "limit_price": "10"},
            "limit_price",
            id="market-with-price",
        ),
        pytest.param({"side": "hold"}, "side", id="bad-side"),
        pytest.param({"order_type": "stop"}, "order_type", id="bad-order-type"),
        pytest.param({"time_in_force": "forever"}, "time_in_force", id="bad-time-in-force"),
        pytest.param({"metadata": ["a", "list"]}, "metadata", id="metadata-not-a-dict"),
        pytest.param({"metadata": {"note": "x" * 17_000}}, "metadata", id="metadata-too-large"),
        pytest.param({"status": "filled"}, "status", id="not-a-submission-status"),
    ],
)
def test_order_create_refuses_bad_input_and_stores_nothing(account, instrument, overrides, field):
    with pytest.raises(ValidationFailed) as exc:
        create(account, instrument, **overrides)
    assert field in exc.value.details
    assert Order.objects.count() == 0
    assert not WorkingExposure.objects.exists()


def test_order_create_refuses_float_with_decimal_strings_hint(account, instrument):
    with pytest.raises(ValidationFailed) as exc:
        create(account, instrument, quantity=1.5)
    assert exc.value.details == {"quantity": ["Send amounts as decimal strings."]}


def test_order_create_refuses_huge_quantity_as_out_of_range(account, instrument):
    with pytest.raises(ValidationFailed) as exc:
        create(account, instrument, quantity="1e30")
    assert exc.value.details == {"quantity": ["Amount out of range."]}


def test_order_create_refuses_inactive_account(account, instrument):
    account.is_active = False
    account.save()
    with pytest.raises(ValidationFailed) as exc:
        create(account, instrument)
    assert "account" in exc.value.details
    assert Order.objects.count() == 0


def test_order_create_refuses_inactive_instrument(account, instrument):
    instrument.is_active = False
    instrument.save()
    with pytest.raises(ValidationFailed) as exc:
        create(account, instrument)
    assert "instrument" in exc.value.details
    assert Order.objects.count() == 0


def test_order_create_stores_decimal_amounts_and_metadata(account, instrument, make_user):
    user = make_user()
    order = create(
        account,
        instrument,
        quantity="12.5",
        limit_price="101.25",
        metadata={"strategy": "x"},
        time_in_force="gtc",
        submitted_by=user,
    )
    order = Order.objects.get(pk=order.pk)
    assert order.quantity == D("12.5")
    assert order.limit_price == D("101.25")
    assert order.filled_quantity == D("0")
    assert order.avg_fill_price is None
    assert order.status == OrderStatus.ACCEPTED
    assert order.time_in_force == "gtc"
    assert order.metadata == {"strategy": "x"}
    assert order.submitted_by == user


def test_market_order_with_empty_limit_price_stores_null(account, instrument):
    order = create(account, instrument, order_type="market", limit_price="")
    assert Order.objects.get(pk=order.pk).limit_price is None


def test_duplicate_client_order_id_on_same_account_is_conflict(account, instrument):
    create(account, instrument, client_order_id="dup")
    with pytest.raises(Conflict) as exc:
        create(account, instrument, client_order_id="dup")
    assert exc.value.code == "duplicate_client_order_id"
    assert exc.value.status_code == 409
    assert Order.objects.count() == 1


def test_duplicate_client_order_id_does_not_add_exposure(account, instrument):
    create(account, instrument, client_order_id="dup")
    with pytest.raises(Conflict):
        create(account, instrument, client_order_id="dup")
    assert exposure(account, instrument)[:2] == (D("100"), D("1000"))


def test_same_client_order_id_on_another_account_is_allowed(account, instrument):
    other = AccountFactory(code="ACC-T2")
    create(account, instrument, client_order_id="same")
    create(other, instrument, client_order_id="same")
    assert Order.objects.filter(client_order_id="same").count() == 2


# --- working exposure ---------------------------------------------------------------------------


def test_buy_limit_order_adds_buy_exposure(account, instrument):
    create(account, instrument)
    assert exposure(account, instrument) == (D("100"), D("1000"), D("0"), D("0"))


def test_sell_limit_order_adds_sell_exposure(account, instrument):
    create(account, instrument, side="sell", quantity="30", limit_price="20")
    assert exposure(account, instrument) == (D("0"), D("0"), D("30"), D("600"))


def test_market_order_exposure_is_valued_at_its_reference_price(account, instrument):
    create(
        account,
        instrument,
        order_type="market",
        limit_price=None,
        reference_price=D("100"),
        quantity="5",
    )
    assert exposure(account, instrument)[:2] == (D("5"), D("500"))


def test_partial_fill_reduces_exposure_by_filled_quantity(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40", price="10")
    assert exposure(account, instrument)[:2] == (D("60"), D("600"))


def test_complete_fill_clears_exposure(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40", price="10")
    fill(order, quantity="60", price="9.5")
    assert exposure(account, instrument)[:2] == (D("0"), D("0"))


def test_cancel_after_partial_fill_clears_exposure(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40", price="10")
    order_cancel(order=order)
    assert exposure(account, instrument)[:2] == (D("0"), D("0"))


def test_amending_quantity_adjusts_exposure(account, instrument):
    order = create(account, instrument)
    order_amend(order=order, quantity="150")
    assert exposure(account, instrument)[:2] == (D("150"), D("1500"))


def test_amending_quantity_after_partial_fill_counts_only_remaining(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40", price="10")
    order_amend(order=order, quantity="120")
    assert exposure(account, instrument)[:2] == (D("80"), D("800"))


def test_amending_limit_price_adjusts_exposure(account, instrument):
    order = create(account, instrument)
    order_amend(order=order, limit_price="12")
    assert exposure(account, instrument)[:2] == (D("100"), D("1200"))


def test_pending_approval_order_counts_in_exposure(account, instrument):
    create(account, instrument, status=OrderStatus.PENDING_APPROVAL)
    assert exposure(account, instrument)[:2] == (D("100"), D("1000"))


def test_rejected_order_does_not_count_in_exposure(account, instrument):
    create(account, instrument, status=OrderStatus.REJECTED)
    assert Order.objects.count() == 1
    assert exposure(account, instrument)[:2] == (D("0"), D("0"))


def test_rejecting_pending_order_removes_its_exposure(account, instrument):
    order = create(account, instrument, status=OrderStatus.PENDING_APPROVAL)
    order_status_set(order=order, status=OrderStatus.REJECTED)
    assert exposure(account, instrument)[:2] == (D("0"), D("0"))


def test_exposure_sums_orders_of_the_same_account_and_instrument(account, instrument):
    create(account, instrument)
    create(account, instrument, quantity="50", limit_price="11")
    create(account, instrument, side="sell", quantity="10", limit_price="13")
    assert exposure(account, instrument) == (D("150"), D("1550"), D("10"), D("130"))


def test_exposure_is_kept_per_instrument(account, instrument):
    other = InstrumentFactory(symbol="MSFT")
    create(account, instrument)
    create(account, other, quantity="7", limit_price="3")
    assert exposure(account, instrument)[:2] == (D("100"), D("1000"))
    assert exposure(account, other)[:2] == (D("7"), D("21"))


# --- order_fill ---------------------------------------------------------------------------------


def test_fill_larger_than_remaining_is_refused_and_changes_nothing(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40", price="10")
    with pytest.raises(ValidationFailed) as exc:
        fill(order, quantity="61", price="10")
    assert "quantity" in exc.value.details
    assert Fill.objects.count() == 1
    order.refresh_from_db()
    assert (order.filled_quantity, order.status, order.avg_fill_price) == (
        D("40"),
        OrderStatus.PARTIALLY_FILLED,
        D("10"),
    )
    position = Position.objects.get(account=account, instrument=instrument)
    assert (position.quantity, position.average_cost) == (D("40"), D("10"))
    assert exposure(account, instrument)[:2] == (D("60"), D("600"))


def test_first_fill_larger_than_order_stores_no_fill_and_no_position(account, instrument):
    order = create(account, instrument)
    with pytest.raises(ValidationFailed):
        fill(order, quantity="100.00000001")
    assert Fill.objects.count() == 0
    assert Position.objects.count() == 0
    order.refresh_from_db()
    assert (order.filled_quantity, order.status) == (D("0"), OrderStatus.ACCEPTED)


def test_duplicate_exec_id_is_conflict(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="10", exec_id="E-1")
    with pytest.raises(Conflict) as exc:
        fill(order, quantity="10", exec_id="E-1")
    assert exc.value.code == "duplicate_exec_id"
    assert Fill.objects.count() == 1
    order.refresh_from_db()
    assert order.filled_quantity == D("10")


def test_fill_on_canceled_order_is_conflict(account, instrument):
    order = create(account, instrument)
    order_cancel(order=order)
    with pytest.raises(Conflict) as exc:
        fill(order, quantity="10")
    assert exc.value.code == "order_not_fillable"
    assert Fill.objects.count() == 0
    assert Position.objects.count() == 0


def test_fill_on_rejected_order_is_conflict(account, instrument):
    order = create(account, instrument, status=OrderStatus.REJECTED)
    with pytest.raises(Conflict) as exc:
        fill(order, quantity="10")
    assert exc.value.code == "order_not_fillable"
    assert Fill.objects.count() == 0
    assert Position.objects.count() == 0


def test_fill_on_pending_approval_order_is_conflict(account, instrument):
    order = create(account, instrument, status=OrderStatus.PENDING_APPROVAL)
    with pytest.raises(Conflict):
        fill(order, quantity="10")
    assert Fill.objects.count() == 0


def test_fill_with_naive_time_is_refused(account, instrument):
    order = create(account, instrument)
    with pytest.raises(ValidationFailed) as exc:
        fill(order, executed_at=datetime(2025, 1, 2, 10, 0))  # noqa: DTZ001
    assert "executed_at" in exc.value.details
    assert Fill.objects.count() == 0


def test_fill_with_time_in_the_future_is_refused(account, instrument):
    order = create(account, instrument)
    with pytest.raises(ValidationFailed) as exc:
        fill(order, executed_at=utcnow() + timedelta(hours=1))
    assert "executed_at" in exc.value.details
    assert Fill.objects.count() == 0


def test_fill_within_clock_skew_allowance_is_booked(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="10", executed_at=utcnow() + timedelta(minutes=1))
    assert Fill.objects.count() == 1


def test_fill_with_negative_commission_is_refused(account, instrument):
    order = create(account, instrument)
    with pytest.raises(ValidationFailed) as exc:
        fill(order, commission="-0.01")
    assert "commission" in exc.value.details
    assert Fill.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"quantity": "0"}, "quantity", id="zero-quantity"),
        pytest.param({"price": "0"}, "price", id="zero-price"),
        pytest.param({"price": 10.0}, "price", id="float-price"),
        pytest.param({"liquidity": "both"}, "liquidity", id="bad-liquidity"),
        pytest.param({"venue": "xnys"}, "venue", id="bad-venue"),
    ],
)
def test_fill_with_bad_input_is_refused_and_stores_nothing(account, instrument, overrides, field):
    order = create(account, instrument)
    with pytest.raises(ValidationFailed) as exc:
        fill(order, **overrides)
    assert field in exc.value.details
    assert Fill.objects.count() == 0
    assert Position.objects.count() == 0


def test_fill_stores_fill_with_its_commission(account, instrument):
    order = create(account, instrument)
    stored, _position = fill(order, quantity="25", price="9.99", commission="1.25", exec_id="E-9")
    stored = Fill.objects.get(pk=stored.pk)
    assert (stored.exec_id, stored.quantity, stored.price, stored.commission) == (
        "E-9",
        D("25"),
        D("9.99"),
        D("1.25"),
    )
    assert stored.order_id == order.pk


# --- cancel, amend, status ----------------------------------------------------------------------


def test_cancel_of_filled_order_is_conflict(account, instrument):
    order = create(account, instrument)
    fill(order)
    with pytest.raises(Conflict) as exc:
        order_cancel(order=order)
    assert exc.value.code == "order_not_cancelable"
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED


def test_cancel_of_accepted_order_sets_canceled(account, instrument):
    order = create(account, instrument)
    order_cancel(order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED


@pytest.mark.parametrize("quantity", ["40", "30"])
def test_amend_to_quantity_not_above_filled_is_refused(account, instrument, quantity):
    order = create(account, instrument)
    fill(order, quantity="40")
    with pytest.raises(ValidationFailed) as exc:
        order_amend(order=order, quantity=quantity)
    assert "quantity" in exc.value.details
    order.refresh_from_db()
    assert order.quantity == D("100")
    assert exposure(account, instrument)[:2] == (D("60"), D("600"))


def test_amend_of_limit_price_on_market_order_is_refused(account, instrument):
    order = create(account, instrument, order_type="market", limit_price=None)
    with pytest.raises(ValidationFailed) as exc:
        order_amend(order=order, limit_price="10")
    assert "limit_price" in exc.value.details


def test_amend_of_canceled_order_is_conflict(account, instrument):
    order = create(account, instrument)
    order_cancel(order=order)
    with pytest.raises(Conflict):
        order_amend(order=order, quantity="200")


def test_amend_of_held_order_is_conflict(account, instrument):
    """Its approver must not decide on figures that moved: a held order is canceled and sent
    again instead."""
    order = create(account, instrument, status=OrderStatus.PENDING_APPROVAL)
    with pytest.raises(Conflict):
        order_amend(order=order, quantity="200")
    order.refresh_from_db()
    assert order.quantity == D("100")


def test_status_set_pending_approval_to_accepted_is_allowed(account, instrument):
    order = create(account, instrument, status=OrderStatus.PENDING_APPROVAL)
    order_status_set(order=order, status=OrderStatus.ACCEPTED)
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED
    assert exposure(account, instrument)[:2] == (D("100"), D("1000"))


def test_status_set_filled_to_accepted_is_conflict(account, instrument):
    order = create(account, instrument)
    fill(order)
    with pytest.raises(Conflict) as exc:
        order_status_set(order=order, status=OrderStatus.ACCEPTED)
    assert exc.value.code == "invalid_transition"
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED


def test_status_set_expiry_of_partially_filled_order_clears_exposure(account, instrument):
    order = create(account, instrument)
    fill(order, quantity="40")
    order_status_set(order=order, status=OrderStatus.EXPIRED)
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert order.filled_quantity == D("40")
    assert exposure(account, instrument)[:2] == (D("0"), D("0"))
