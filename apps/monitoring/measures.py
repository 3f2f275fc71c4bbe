"""The portfolio measures, in NumPy: pure functions of arrays, no database, no Python loops over
positions or days. Each takes every book at once (one row per book: each account, then the firm)
so that one run measures the whole firm in a few array operations.

Statistics are computed in float64; the monitor turns each result into a Decimal (quantized) to
store and compare it with the rule's Decimal limit.
"""

import math

import numpy as np


def closes_matrix(
    day_index: np.ndarray, instrument_index: np.ndarray, closes: np.ndarray, shape: tuple
) -> np.ndarray:
    """Stored daily closes as a (days x instruments) matrix, a day without a close carrying the
    previous one forward (NaN before an instrument's first close)."""
    matrix = np.full(shape, np.nan)
    matrix[day_index, instrument_index] = closes
    # Forward fill down each column: the index of the last row that had a value.
    have = ~np.isnan(matrix)
    last = np.where(have, np.arange(shape[0])[:, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)
    filled = matrix[last, np.arange(shape[1])]
    filled[~np.maximum.accumulate(have, axis=0)] = np.nan
    return filled


def daily_pnl(closes: np.ndarray, quantities: np.ndarray) -> np.ndarray:
    """Each book's P&L per day if it had held today's quantities: (days-1 x books).

    `closes` is (days x instruments), `quantities` (books x instruments), signed. A day with no
    price on either side contributes nothing for that instrument.
    """
    moves = np.nan_to_num(np.diff(closes, axis=0), nan=0.0)
    return moves @ quantities.T


def expected_shortfall(pnl: np.ndarray, confidence: float) -> np.ndarray:
    """Expected shortfall by historical simulation, per column of `pnl` (days x books): the mean
    loss over the worst ceil(n x (1 - confidence)) days, as a positive number (0 when even those
    days made money)."""
    days = pnl.shape[0]
    if days == 0:
        return np.zeros(pnl.shape[1])
    tail = max(1, math.ceil(round(days * (1 - confidence), 9)))
    worst = np.sort(pnl, axis=0)[:tail]
    return np.maximum(-worst.mean(axis=0), 0.0)


def max_drawdown(nav_start: np.ndarray, pnl: np.ndarray) -> np.ndarray:
    """The largest fall from a peak, as a fraction of the peak, of each book's NAV path: it
    starts at `nav_start` and moves by each day's P&L."""
    path = np.vstack([nav_start[None, :], nav_start[None, :] + np.cumsum(pnl, axis=0)])
    peaks = np.maximum.accumulate(path, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - path) / peaks, 0.0)
    return falls.max(axis=0)


def weights(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each position's share of its book (|value| over the book's gross value), and the gross
    values. `values` is (books x instruments), signed market values."""
    gross_values = np.abs(values)
    gross = gross_values.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(gross[:, None] > 0, gross_values / gross[:, None], 0.0)
    return shares, gross


def largest_weight(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest share in each book and the column it is in."""
    if shares.shape[1] == 0:
        return np.zeros(shares.shape[0]), np.zeros(shares.shape[0], dtype=int)
    return shares.max(axis=1), shares.argmax(axis=1)


def sector_weights(shares: np.ndarray, sector_of: np.ndarray, sectors: int) -> np.ndarray:
    """Each sector's share of each book: (books x sectors). `sector_of[i]` is instrument i's
    sector number."""
    onehot = np.zeros((shares.shape[1], sectors))
    onehot[np.arange(shares.shape[1]), sector_of] = 1.0
    return shares @ onehot


def herfindahl(shares: np.ndarray) -> np.ndarray:
    """Herfindahl-Hirschman index of each book's position weights: the sum of squared shares
    (1 for a single position, 1/n for n equal ones)."""
    return np.square(shares).sum(axis=1)


def implementation_shortfall_bp(
    book: np.ndarray,
    books: int,
    side: np.ndarray,
    quantity: np.ndarray,
    price: np.ndarray,
    reference: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Implementation shortfall of each book's fills against the reference price at submission,
    in basis points of the reference notional (positive: paid more on a buy, got less on a
    sell), and the number of fills per book. `side` is +1 for a buy, -1 for a sell."""
    cost = np.bincount(book, weights=side * (price - reference) * quantity, minlength=books)
    notional = np.bincount(book, weights=reference * quantity, minlength=books)
    fills = np.bincount(book, minlength=books)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(notional > 0, cost / notional * 10_000, 0.0)
    return bp, fills


def uptime(open_minutes: np.ndarray, heartbeats: np.ndarray, tolerance: float = 60.0) -> float:
    """The share of market minutes the monitor was up: a minute (epoch seconds of its start)
    counts when a heartbeat (epoch seconds) falls within `tolerance` seconds of it. 1.0 when no
    market minute has passed."""
    if open_minutes.size == 0:
        return 1.0
    if heartbeats.size == 0:
        return 0.0
    beats = np.sort(heartbeats)
    at = np.searchsorted(beats, open_minutes)
    before = beats[np.clip(at - 1, 0, beats.size - 1)]
    after = beats[np.clip(at, 0, beats.size - 1)]
    nearest = np.minimum(np.abs(open_minutes - before), np.abs(after - open_minutes))
    return float(np.mean(nearest <= tolerance))


def fresh_share(ages_seconds: np.ndarray, max_age: float) -> float:
    """The share of instruments whose reference price is at most `max_age` seconds old (NaN: no
    price at all, never fresh). 1.0 when there is no instrument to judge."""
    if ages_seconds.size == 0:
        return 1.0
    return float(np.mean(np.nan_to_num(ages_seconds, nan=np.inf) <= max_age))
