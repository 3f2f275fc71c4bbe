"""The database refuses bad rows even when the services are bypassed; identifier validators."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.errors import ValidationFailed
from apps.core.time import utcnow
from apps.trading.models import (
    DailyPrice,
    Fill,
    Instrument,
    Order,
    Position,
    WorkingExposure,
)
from apps.trading.services import instrument_create
from apps.trading.validators import isin_is_valid, lei_is_valid, validate_lei
from tests.trading.factories import AccountFactory

D = Decimal


def order_row(account, instrument, **overrides) -> dict:
    """Field values of a valid limit order row, for Order.objects.create."""
    values = {
        "account": account,
        "instrument": instrument,
        "client_order_id": "raw-1",
        "side": "buy",
        "order_type": "limit",
        "quantity": D("100"),
        "limit_price": D("10"),
        "status": "accepted",
    }
    values.update(overrides)
    return values


def fill_row(order, **overrides) -> dict:
    values = {
        "order": order,
        "exec_id": "raw-exec-1",
        "quantity": D("10"),
        "price": D("10"),
        "venue": "XNYS",
        "executed_at": utcnow(),
        "liquidity": "removed",
    }
    values.update(overrides)
    return values


# --- Order --------------------------------------------------------------------------------------


def test_valid_raw_order_row_is_accepted(account, instrument):
    # The baseline the refusals below differ from by one field.
    Order.objects.create(**order_row(account, instrument))
    assert Order.objects.count() == 1


def test_order_with_zero_quantity_is_refused_by_database(account, instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(**order_row(account, instrument, quantity=D("0")))
    assert Order.objects.count() == 0


def test_order_filled_beyond_quantity_is_refused_by_database(account, instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            **order_row(account, instrument, quantity=D("10"), filled_quantity=D("10.5"))
        )
    assert Order.objects.count() == 0


def test_update_of_filled_quantity_beyond_quantity_is_refused_by_database(account, instrument):
    order = Order.objects.create(**order_row(account, instrument))
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(filled_quantity=D("101"))
    order.refresh_from_db()
    assert order.filled_quantity == D("0")


def test_limit_order_with_null_price_is_refused_by_database(account, instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(**order_row(account, instrument, limit_price=None))
    assert Order.objects.count() == 0


def test_limit_order_with_zero_price_is_refused_by_database(account, instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(**order_row(account, instrument, limit_price=D("0")))
    assert Order.objects.count() == 0


def test_duplicate_client_order_id_on_one_account_is_refused_by_database(account, instrument):
    Order.objects.create(**order_row(account, instrument, client_order_id="same"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(**order_row(account, instrument, client_order_id="same"))
    assert Order.objects.count() == 1


def test_same_client_order_id_on_two_accounts_is_accepted_by_database(account, instrument):
    other = AccountFactory(code="ACC-T2")
    Order.objects.create(**order_row(account, instrument, client_order_id="same"))
    Order.objects.create(**order_row(other, instrument, client_order_id="same"))
    assert Order.objects.count() == 2


# --- Position, Fill, WorkingExposure, DailyPrice ------------------------------------------------


def test_second_position_for_account_and_instrument_is_refused_by_database(account, instrument):
    Position.objects.create(account=account, instrument=instrument)
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.create(account=account, instrument=instrument, quantity=D("5"))
    assert Position.objects.count() == 1


def test_fill_with_zero_quantity_is_refused_by_database(account, instrument):
    order = Order.objects.create(**order_row(account, instrument))
    with pytest.raises(IntegrityError), transaction.atomic():
        Fill.objects.create(**fill_row(order, quantity=D("0")))
    assert Fill.objects.count() == 0


def test_duplicate_exec_id_is_refused_by_database(account, instrument):
    order = Order.objects.create(**order_row(account, instrument))
    Fill.objects.create(**fill_row(order, exec_id="E-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Fill.objects.bulk_create([Fill(**fill_row(order, exec_id="E-1"))])
    assert Fill.objects.count() == 1


@pytest.mark.parametrize(
    "field", ["buy_quantity", "sell_quantity", "buy_notional", "sell_notional"]
)
def test_negative_working_exposure_is_refused_by_database(account, instrument, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingExposure.objects.create(account=account, instrument=instrument, **{field: D("-1")})
    assert WorkingExposure.objects.count() == 0


def test_update_making_working_exposure_negative_is_refused_by_database(account, instrument):
    row = WorkingExposure.objects.create(
        account=account, instrument=instrument, buy_quantity=D("5")
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingExposure.objects.filter(pk=row.pk).update(buy_quantity=D("-0.00000001"))
    row.refresh_from_db()
    assert row.buy_quantity == D("5")


def test_daily_price_with_low_above_high_is_refused_by_database(instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        DailyPrice.objects.create(
            instrument=instrument,
            date=date(2025, 1, 2),
            open=D("10"),
            high=D("11"),
            low=D("11.5"),
            close=D("10.5"),
        )
    assert DailyPrice.objects.count() == 0


# --- identifier validators ----------------------------------------------------------------------


@pytest.mark.parametrize("isin", ["US0378331005", "DE0007164600", "FR0000120271"])
def test_isin_is_valid_accepts_real_isins(isin):
    assert isin_is_valid(isin)


@pytest.mark.parametrize(
    "isin",
    [
        pytest.param("US0378331006", id="bad-check-digit"),
        pytest.param("us0378331005", id="lowercase"),
        pytest.param("US037833100", id="too-short"),
        pytest.param("US03783310055", id="too-long"),
        pytest.param("", id="empty"),
        pytest.param(None, id="not-a-string"),
    ],
)
def test_isin_is_valid_refuses_malformed_isins(isin):
    assert not isin_is_valid(isin)


def _instrument_kwargs(**overrides) -> dict:
    values = {
        "symbol": "SAP",
        "isin": "DE0007164600",
        "mic": "XETR",
        "name": "SAP SE",
        "asset_class": "equity",
        "sector": "Technology",
        "currency": "EUR",
    }
    values.update(overrides)
    return values


def test_instrument_create_with_valid_isin_stores_instrument(db):
    instrument = instrument_create(**_instrument_kwargs())
    assert Instrument.objects.get(pk=instrument.pk).isin == "DE0007164600"


def test_instrument_create_with_bad_isin_is_refused_and_stores_nothing(db):
    with pytest.raises(ValidationFailed) as exc:
        instrument_create(**_instrument_kwargs(isin="DE0007164601"))
    assert "isin" in exc.value.details
    assert Instrument.objects.count() == 0


def _lei_with_check_digits(body: str) -> str:
    """ISO 17442 / ISO 7064 MOD 97-10: append the two digits that make the number 1 mod 97."""
    digits = "".join(str(int(ch, 36)) for ch in body + "00")
    check = 98 - int(digits) % 97
    return f"{body}{check:02d}"


def test_lei_is_valid_accepts_published_lei():
    assert lei_is_valid("5493001KJTIIGC8Y1R12")


def test_lei_is_valid_accepts_computed_lei():
    lei = _lei_with_check_digits("529900T8BM49AURSDO")
    assert len(lei) == 20
    assert lei_is_valid(lei)


@pytest.mark.parametrize(
    "lei",
    [
        pytest.param("5493001KJTIIGC8Y1R13", id="bad-check-digits"),
        pytest.param("5493001kjtiigc8y1r12", id="lowercase"),
        pytest.param("5493001KJTIIGC8Y1R1", id="too-short"),
        pytest.param("5493001KJTIIGC8Y1RAB", id="letters-in-check-digits"),
    ],
)
def test_lei_is_valid_refuses_bad_lei(lei):
    assert not lei_is_valid(lei)


def test_validate_lei_allows_blank_but_not_invalid():
    validate_lei("")
    with pytest.raises(ValidationError):
        validate_lei("5493001KJTIIGC8Y1R13")
