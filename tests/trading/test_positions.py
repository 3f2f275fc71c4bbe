"""Position arithmetic (average-cost method): the pure function and the booked Position row."""

import itertools
import random
from decimal import Decimal

import pytest

from apps.core.time import utcnow
from apps.trading.models import Order, OrderStatus, Position
from apps.trading.services import (
    PositionState,
    order_create,
    order_fill,
    position_after_fill,
)
from tests.trading.factories import OptionFactory

D = Decimal
FLAT = PositionState(D("0"), D("0"), D("0"))

_ids = itertools.count(1)


def apply(*fills: tuple[str, str], start: PositionState = FLAT) -> PositionState:
    """Apply (signed quantity, price) fills, given as strings, to a position state."""
    state = start
    for qty, price in fills:
        state = position_after_fill(state, D(qty), D(price))
    return state


def trade(account, instrument, side: str, quantity: str, price: str) -> Order:
    """Create a market order and fill it completely at one price."""
    n = next(_ids)
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id=f"pos-{n}",
        side=side,
        order_type="market",
        quantity=quantity,
    )
    order_fill(
        order=order,
        exec_id=f"pos-exec-{n}",
        quantity=quantity,
        price=price,
        venue="XNYS",
        executed_at=utcnow(),
        liquidity="removed",
    )
    return order


def position_of(account, instrument) -> Position:
    return Position.objects.get(account=account, instrument=instrument)


# --- the pure function --------------------------------------------------------------------------


def test_buy_from_flat_opens_long_at_the_fill_price():
    assert apply(("100", "10")) == PositionState(D("100"), D("10"), D("0"))


def test_sell_from_flat_opens_short_at_the_fill_price():
    assert apply(("-100", "10")) == PositionState(D("-100"), D("10"), D("0"))


def test_adding_to_long_moves_average_cost_to_weighted_mean():
    assert apply(("100", "10"), ("100", "12")) == PositionState(D("200"), D("11"), D("0"))


def test_adding_to_long_with_unequal_sizes_weights_by_quantity():
    # (100 * 10 + 300 * 14) / 400 = 13
    assert apply(("100", "10"), ("300", "14")) == PositionState(D("400"), D("13"), D("0"))


def test_average_cost_is_rounded_to_eight_decimal_places():
    # (1 * 10 + 2 * 11) / 3 = 10.666...
    state = apply(("1", "10"), ("2", "11"))
    assert state.average_cost == D("10.66666667")
    assert state.quantity == D("3")


def test_partial_reduce_of_long_realises_against_average_and_keeps_it():
    state = apply(("100", "10"), ("100", "12"), ("-50", "15"))
    # closed 50 * (15 - 11) = 200
    assert state == PositionState(D("150"), D("11"), D("200"))


def test_partial_reduce_of_long_at_a_loss_realises_negative_pnl():
    state = apply(("100", "10"), ("-30", "8.5"))
    assert state == PositionState(D("70"), D("10"), D("-45"))


def test_closing_long_to_flat_zeroes_quantity_and_average():
    state = apply(("100", "10"), ("100", "12"), ("-200", "13"))
    assert state == PositionState(D("0"), D("0"), D("400"))


def test_flip_long_to_short_realises_old_position_and_opens_rest_at_fill_price():
    state = apply(("100", "10"), ("-150", "12"))
    # 100 * (12 - 10) realised; 50 short opened at 12
    assert state == PositionState(D("-50"), D("12"), D("200"))


def test_adding_to_short_moves_average_cost():
    assert apply(("-100", "10"), ("-100", "12")) == PositionState(D("-200"), D("11"), D("0"))


def test_buying_back_short_at_lower_price_realises_profit():
    state = apply(("-100", "20"), ("40", "15"))
    # closed 40, short gains 20 - 15 per share
    assert state == PositionState(D("-60"), D("20"), D("200"))


def test_buying_back_short_at_higher_price_realises_loss():
    state = apply(("-100", "20"), ("100", "21.5"))
    assert state == PositionState(D("0"), D("0"), D("-150"))


def test_flip_short_to_long_realises_old_position_and_opens_rest_at_fill_price():
    state = apply(("-100", "20"), ("130", "18"))
    assert state == PositionState(D("30"), D("18"), D("200"))


def test_realised_pnl_accumulates_over_round_trips():
    state = apply(("10", "5"), ("-10", "6"), ("-10", "6"), ("10", "4"))
    assert state == PositionState(D("0"), D("0"), D("30"))


def test_fractional_quantities_and_prices_are_exact():
    state = apply(("0.5", "100.25"), ("1.5", "100.75"), ("-0.25", "101"))
    # avg (0.5 * 100.25 + 1.5 * 100.75) / 2 = 100.625; realised 0.25 * (101 - 100.625)
    assert state == PositionState(D("1.75"), D("100.625"), D("0.09375"))


# --- booked through the order services ----------------------------------------------------------


def test_buy_fill_creates_long_position_row(account, instrument):
    trade(account, instrument, "buy", "100", "10")
    position = position_of(account, instrument)
    assert (position.quantity, position.average_cost, position.realised_pnl) == (
        D("100"),
        D("10"),
        D("0"),
    )


def test_second_buy_moves_average_cost_of_position_row(account, instrument):
    trade(account, instrument, "buy", "100", "10")
    trade(account, instrument, "buy", "100", "12")
    position = position_of(account, instrument)
    assert (position.quantity, position.average_cost, position.realised_pnl) == (
        D("200"),
        D("11"),
        D("0"),
    )


@pytest.mark.parametrize(
    ("trades", "expected"),
    [
        pytest.param(
            [("buy", "100", "10"), ("buy", "100", "12"), ("sell", "50", "15")],
            ("150", "11", "200"),
            id="partial-sell-realises-and-keeps-average",
        ),
        pytest.param(
            [("buy", "100", "10"), ("sell", "100", "9")], ("0", "0", "-100"), id="sell-to-flat"
        ),
        pytest.param(
            [("buy", "100", "10"), ("sell", "150", "12")],
            ("-50", "12", "200"),
            id="one-sell-flips-long-to-short",
        ),
        pytest.param(
            [("sell", "100", "20"), ("buy", "100", "15")],
            ("0", "0", "500"),
            id="short-bought-back-lower-is-profit",
        ),
        pytest.param(
            [("sell", "100", "20"), ("buy", "130", "18")],
            ("30", "18", "200"),
            id="one-buy-flips-short-to-long",
        ),
    ],
)
def test_position_row_after_fills(account, instrument, trades, expected):
    for side, quantity, price in trades:
        trade(account, instrument, side, quantity, price)
    position = position_of(account, instrument)
    assert (position.quantity, position.average_cost, position.realised_pnl) == tuple(
        D(x) for x in expected
    )


def test_positions_are_kept_per_account(account, instrument):
    from tests.trading.factories import AccountFactory

    other = AccountFactory(code="ACC-T2")
    trade(account, instrument, "buy", "100", "10")
    trade(other, instrument, "sell", "40", "11")
    assert position_of(account, instrument).quantity == D("100")
    assert position_of(other, instrument).quantity == D("-40")


def _fill(order, exec_id, quantity, price):
    return order_fill(
        order=order,
        exec_id=exec_id,
        quantity=quantity,
        price=price,
        venue="XNYS",
        executed_at=utcnow(),
        liquidity="added",
    )


def test_partial_fills_of_one_order_update_status_quantity_and_average(account, instrument):
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="multi",
        side="buy",
        order_type="limit",
        quantity="100",
        limit_price="12",
    )

    _fill(order, "m-1", "30", "10")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == D("30")
    assert order.avg_fill_price == D("10")

    _fill(order, "m-2", "30", "11")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == D("60")
    assert order.avg_fill_price == D("10.5")

    _fill(order, "m-3", "40", "12")
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert order.filled_quantity == D("100")
    # (30 * 10 + 30 * 11 + 40 * 12) / 100
    assert order.avg_fill_price == D("11.1")
    assert order.fills.count() == 3


def test_partial_fills_of_one_order_build_one_position(account, instrument):
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="multi",
        side="buy",
        order_type="limit",
        quantity="100",
        limit_price="12",
    )
    _fill(order, "m-1", "30", "10")
    _fill(order, "m-2", "30", "11")
    _fill(order, "m-3", "40", "12")
    position = position_of(account, instrument)
    assert (position.quantity, position.average_cost, position.realised_pnl) == (
        D("100"),
        D("11.1"),
        D("0"),
    )


def test_average_fill_price_of_uneven_fills_is_rounded_weighted_mean(account, instrument):
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="uneven",
        side="sell",
        order_type="market",
        quantity="3",
    )
    _fill(order, "u-1", "1", "10")
    _fill(order, "u-2", "2", "11")
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert order.avg_fill_price == D("10.66666667")


def test_average_fill_price_is_weighted_mean_of_all_fills_not_of_rounded_average(
    account, instrument
):
    # Weighted mean of 1 @ 10, 2 @ 11, 3 @ 10 is 62 / 6 = 10.3333...; to 8 places 10.33333333.
    # Averaging the already rounded 10.66666667 with the third fill would drift to 10.33333334.
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="drift",
        side="buy",
        order_type="market",
        quantity="6",
    )
    _fill(order, "d-1", "1", "10")
    _fill(order, "d-2", "2", "11")
    _fill(order, "d-3", "3", "10")
    order.refresh_from_db()
    assert order.filled_quantity == D("6")
    assert order.avg_fill_price == D("10.33333333")


# --- property: invariants over random fill sequences --------------------------------------------


def _random_fills(rng: random.Random) -> list[tuple[Decimal, Decimal]]:
    # Small integer quantities keep the rounding of the average cost (at most 0.5e-8 per fill,
    # times the open quantity) well inside the 1e-6 tolerance: at most 8 fills of 5 or fewer.
    fills = []
    for _ in range(rng.randint(1, 8)):
        qty = D(rng.randint(1, 5)) * rng.choice((1, -1))
        price = D(rng.randint(100, 20_000)) / 100
        fills.append((qty, price))
    return fills


def test_random_fill_sequences_keep_position_invariants():
    for seed in range(200):
        rng = random.Random(seed)
        fills = _random_fills(rng)
        last_price = D(rng.randint(100, 20_000)) / 100

        state = FLAT
        for qty, price in fills:
            state = position_after_fill(state, qty, price)
            assert state.average_cost >= 0, (seed, fills)
            assert (state.quantity == 0) == (state.average_cost == 0), (seed, fills)

        assert state.quantity == sum(qty for qty, _ in fills), (seed, fills)
        unrealised = state.quantity * (last_price - state.average_cost)
        cash_pnl = sum(-qty * price for qty, price in fills) + state.quantity * last_price
        assert abs(state.realised_pnl + unrealised - cash_pnl) <= D("1e-6"), (seed, fills)


def test_an_option_position_realises_its_contracts_worth(account):
    """10 calls bought at 10 and sold at 12 on 100 shares each make 2,000, not 20."""
    call = OptionFactory(symbol="CALL-T")
    for side, price in (("buy", "10"), ("sell", "12")):
        order = order_create(
            account=account,
            instrument=call,
            client_order_id=f"opt-{side}",
            side=side,
            order_type="limit",
            quantity="10",
            limit_price=price,
        )
        order_fill(
            order=order,
            exec_id=f"opt-x-{side}",
            quantity="10",
            price=price,
            venue="XCBO",
            executed_at=utcnow(),
            liquidity="removed",
        )
    position = Position.objects.get(account=account, instrument=call)
    assert (position.quantity, position.realised_pnl) == (0, D("2000"))
    # the average cost stays a per-share price, as the fill prices are
    assert position_after_fill(FLAT, D("3"), D("10"), D("100")).average_cost == D("10")
