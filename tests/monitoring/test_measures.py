"""Each portfolio measure against a series worked out by hand."""

import numpy as np
import pytest

from apps.monitoring import measures


def test_closes_carry_forward_over_a_missing_day():
    # Instrument 0 has no close on day 1; instrument 1 none on day 0.
    matrix = measures.closes_matrix(
        np.array([0, 2, 1, 2]), np.array([0, 0, 1, 1]), np.array([10.0, 12.0, 50.0, 55.0]), (3, 2)
    )
    assert matrix[:, 0].tolist() == [10.0, 10.0, 12.0]
    assert np.isnan(matrix[0, 1]) and matrix[1:, 1].tolist() == [50.0, 55.0]


def test_daily_pnl_of_todays_holdings():
    closes = np.array([[100.0, 50.0], [120.0, 50.0], [90.0, 55.0], [110.0, 45.0]])
    books = np.array([[1.0, 0.0], [0.0, -2.0], [1.0, -2.0]])  # long A; short B; both
    pnl = measures.daily_pnl(closes, books)
    assert pnl[:, 0].tolist() == [20.0, -30.0, 20.0]
    assert pnl[:, 1].tolist() == [0.0, -10.0, 20.0]
    assert pnl[:, 2].tolist() == [20.0, -40.0, 40.0]


def test_a_day_without_a_price_moves_nothing():
    closes = np.array([[np.nan, 10.0], [100.0, 11.0], [101.0, 12.0]])
    assert measures.daily_pnl(closes, np.array([[1.0, 1.0]]))[:, 0].tolist() == [1.0, 2.0]


def test_expected_shortfall_is_the_mean_of_the_worst_tail():
    # 40 days at 97.5%: the tail is ceil(40 x 0.025) = 1 day, the worst: a loss of 10.
    pnl = np.array([-10.0, -8.0] + [1.0] * 38)[:, None]
    assert measures.expected_shortfall(pnl, 0.975)[0] == pytest.approx(10.0)
    # 80 days: the worst 2, (10 + 8) / 2 = 9.
    pnl = np.array([-10.0, -8.0, -7.0] + [1.0] * 77)[:, None]
    assert measures.expected_shortfall(pnl, 0.975)[0] == pytest.approx(9.0)
    # 250 days: ceil(6.25) = 7 days, losses 1..7, mean 4.
    pnl = np.array([-float(n) for n in range(1, 8)] + [2.0] * 243)
    np.random.default_rng(7).shuffle(pnl)
    assert measures.expected_shortfall(pnl[:, None], 0.975)[0] == pytest.approx(4.0)


def test_expected_shortfall_of_a_book_that_never_lost_is_zero():
    assert measures.expected_shortfall(np.ones((50, 1)), 0.975)[0] == 0.0


def test_expected_shortfall_per_book_at_once():
    pnl = np.column_stack([[-4.0, 1.0, 2.0, 3.0], [5.0, -1.0, -2.0, 6.0]])
    # 4 days at 50%: the worst 2 of each book.
    assert measures.expected_shortfall(pnl, 0.5).tolist() == [1.5, 1.5]


def test_max_drawdown_from_the_peak():
    # NAV 110 -> 130 -> 100 -> 120: the fall from 130 to 100 is 30 / 130.
    drawdown = measures.max_drawdown(np.array([110.0]), np.array([[20.0], [-30.0], [20.0]]))
    assert drawdown[0] == pytest.approx(30 / 130)


def test_max_drawdown_of_a_rising_book_is_zero_and_of_a_falling_one_from_the_start():
    rising = measures.max_drawdown(np.array([100.0]), np.array([[1.0], [2.0], [3.0]]))
    falling = measures.max_drawdown(np.array([100.0]), np.array([[-10.0], [-15.0], [5.0]]))
    assert rising[0] == 0.0
    assert falling[0] == pytest.approx(0.25)  # 100 -> 75


def test_weights_largest_position_sectors_and_herfindahl():
    values = np.array([[50.0, -30.0, 20.0], [0.0, 0.0, 0.0]])
    shares, gross = measures.weights(values)
    assert gross.tolist() == [100.0, 0.0]
    assert shares[0].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert shares[1].tolist() == [0.0, 0.0, 0.0]  # an empty book: no division by zero
    top, at = measures.largest_weight(shares)
    assert top[0] == pytest.approx(0.5) and at[0] == 0
    sectors = measures.sector_weights(shares, np.array([0, 1, 0]), 2)
    assert sectors[0].tolist() == pytest.approx([0.7, 0.3])
    # 0.5^2 + 0.3^2 + 0.2^2 = 0.38
    assert measures.herfindahl(shares)[0] == pytest.approx(0.38)


def test_herfindahl_of_n_equal_positions_is_one_over_n():
    shares, _gross = measures.weights(np.full((1, 4), 25.0))
    assert measures.herfindahl(shares)[0] == pytest.approx(0.25)


def test_implementation_shortfall_in_basis_points():
    # Book 0: bought 100 at 101 against 100 (cost 100); sold 50 at 99 against 100 (cost 50):
    # 150 over a reference notional of 15000 = 100 bp. Book 1: bought 10 at 99.5 against 100:
    # a gain, -50 bp.
    bp, fills = measures.implementation_shortfall_bp(
        book=np.array([0, 0, 1]),
        books=3,
        side=np.array([1.0, -1.0, 1.0]),
        quantity=np.array([100.0, 50.0, 10.0]),
        price=np.array([101.0, 99.0, 99.5]),
        reference=np.array([100.0, 100.0, 100.0]),
    )
    assert bp.tolist() == pytest.approx([100.0, -50.0, 0.0])
    assert fills.tolist() == [2, 1, 0]


def test_uptime_counts_market_minutes_near_a_heartbeat():
    minutes = np.arange(10) * 60.0  # ten market minutes
    # Beats every minute but for 240..420: minutes 300 and 360 are more than 60 s from one.
    beats = np.array([0, 60, 120, 180, 480, 540], dtype=float)
    assert measures.uptime(minutes, beats) == pytest.approx(0.8)
    assert measures.uptime(minutes, np.arange(10) * 60.0 + 5) == 1.0
    assert measures.uptime(minutes, np.array([])) == 0.0
    assert measures.uptime(np.array([]), beats) == 1.0


def test_fresh_share_of_reference_prices():
    ages = np.array([10.0, 2000.0, np.nan, 100.0])  # NaN: no price at all
    assert measures.fresh_share(ages, 900) == 0.5
    assert measures.fresh_share(np.array([]), 900) == 1.0
