"""Each detector on sequences that must fire and on look-alikes that must not."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.core.errors import ValidationFailed
from apps.surveillance.detectors import DETECTORS
from apps.surveillance.detectors.base import params_validated
from apps.surveillance.engine import Engine
from apps.surveillance.runner import StreamContext
from tests.surveillance.streams import T0, Stream, findings

# --- wash trading -----------------------------------------------------------------------------


def test_wash_trade_one_accounts_buy_and_sell_crossing_one_cent_apart_25_s_later():
    """A miss before: one cent apart, 25 s later, was outside the 5 s window and not 'matched'."""
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "100", "189.50")
    s.trade(25, "A", "AAPL", "sell", "100", "189.51")
    [found] = findings(s, "wash_trade")
    assert found.severity == "critical" and found.account == "A" and found.instrument == "AAPL"
    assert found.details["matched"] is False and found.details["seconds_apart"] == 25.0
    assert found.details["pattern"] == "cross" and found.details["grouping"] == "owner"
    assert found.orders == (1, 2) and found.fills == (1, 2)


def test_wash_trade_across_accounts_of_one_beneficial_owner_matched():
    s = Stream(owners={"A": "Owner X", "B": "Owner X"})
    s.trade(0, "A", "AAPL", "buy", "100", "189.50")
    s.trade(30, "B", "AAPL", "sell", "100", "189.50")  # matched: same price and quantity
    [found] = findings(s, "wash_trade")
    assert found.details["matched"] is True and found.score == Decimal(1)
    assert found.details["accounts"] == ["A", "B"]
    assert found.key == "wash_trade:owner:Owner X:AAPL"


def test_no_wash_trade_an_hour_apart_or_between_owners_or_same_side():
    s = Stream(owners={"A": "X", "B": "Y"})
    s.trade(0, "A", "AAPL", "buy", "100", "189.50")
    s.trade(3600, "A", "AAPL", "sell", "100", "189.50")  # an hour apart
    s.trade(3601, "B", "AAPL", "buy", "100", "189.50")  # another owner
    s.trade(3602, "A", "AAPL", "sell", "50", "189.50")  # same side as the last of A's
    s.trade(3603, "A", "MSFT", "buy", "50", "410")  # another instrument
    assert findings(s, "wash_trade") == []


def test_wash_trade_window_is_a_parameter():
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "100", "189.50")
    s.trade(90, "A", "AAPL", "sell", "100", "189.50")
    assert findings(s, "wash_trade") == []
    assert len(findings(s, "wash_trade", {"window_seconds": "120"})) == 1


# --- spoofing ---------------------------------------------------------------------------------


def _baseline(s: Stream, account="A", n=6, start=0, qty="100"):
    """Usual-sized orders that rest and are never canceled quickly."""
    for i in range(n):
        s.order(start + i * 10, account, "AAPL", "buy", qty, "189")


def test_spoofing_large_order_canceled_quickly_while_opposite_side_fills():
    s = Stream()
    _baseline(s)
    sell = s.order(100, "A", "AAPL", "sell", "100", "190")
    spoof = s.order(100.5, "A", "AAPL", "buy", "5000", "189.9")
    s.fill(101, sell, "100", "190")
    s.cancel(101.5, spoof)
    [found] = findings(s, "spoofing")
    assert found.severity == "warning" and found.orders[0] == spoof
    assert found.details["opposite_fills"] == 1 and found.fills == (1,)
    assert Decimal(found.details["size_multiple"]) == Decimal("50.0")
    assert found.details["lifetime_seconds"] == 1.0


def test_market_makers_quick_cancel_of_a_usual_size_is_not_spoofing():
    s = Stream()
    _baseline(s)
    for i in range(20):  # quoting: place and pull usual sizes within a second
        quote = s.order(100 + i, "A", "AAPL", "buy", "100", "189.9")
        s.cancel(100.4 + i, quote)
    assert findings(s, "spoofing") == []


def test_no_spoofing_when_canceled_late_partly_filled_or_without_history():
    s = Stream()
    _baseline(s)
    late = s.order(100, "A", "AAPL", "buy", "5000", "189.9")
    s.cancel(105, late)  # after 5 s: not within 2 s
    partly = s.order(110, "A", "AAPL", "buy", "5000", "189.9")
    s.fill(110.5, partly, "10", "189.9")
    s.cancel(111, partly, filled="10")
    fresh = s.order(120, "NEW", "AAPL", "buy", "5000", "189.9")  # no baseline for NEW
    s.cancel(120.5, fresh)
    assert findings(s, "spoofing") == []


# --- layering ---------------------------------------------------------------------------------


def test_layering_stacked_bids_canceled_after_a_sell_execution():
    s = Stream()
    bids = [
        s.order(i, "A", "AAPL", "buy", "500", p) for i, p in enumerate(["189.9", "189.8", "189.7"])
    ]
    sell = s.order(5, "A", "AAPL", "sell", "100", "190")
    s.fill(6, sell, "100", "190")
    for i, bid in enumerate(bids):
        s.cancel(7 + i * 0.1, bid)
    [found] = findings(s, "layering")
    assert found.details["levels"] == 3 and found.details["layer_side"] == "buy"
    assert set(found.orders) == {*bids, sell} and found.fills == (1,)


def test_no_layering_when_orders_stay_or_go_late_or_share_one_price():
    s = Stream()
    bids = [
        s.order(i, "A", "AAPL", "buy", "500", p) for i, p in enumerate(["189.9", "189.8", "189.7"])
    ]
    sell = s.order(5, "A", "AAPL", "sell", "100", "190")
    s.fill(6, sell, "100", "190")
    s.cancel(7, bids[0])  # only one canceled soon
    s.cancel(60, bids[1])  # the others much later
    s.cancel(61, bids[2])
    same = [s.order(100 + i, "B", "AAPL", "buy", "500", "189.9") for i in range(3)]
    sell_b = s.order(105, "B", "AAPL", "sell", "100", "190")
    s.fill(106, sell_b, "100", "190")
    for order_id in same:  # three orders but one price level
        s.cancel(107, order_id)
    assert findings(s, "layering") == []


# --- rapid fire -------------------------------------------------------------------------------


def test_rapid_fire_raises_once_per_crossing():
    s = Stream()
    for i in range(70):
        s.order(i * 0.5, "A", "AAPL", "buy", "1", "189")
    [found] = findings(s, "rapid_fire")  # 61 orders within 60 s: one finding, not ten
    assert found.details["orders"] == 61 and found.details["limit"] == 60
    later = Stream()
    for i in range(70):
        later.order(i * 0.5, "A", "AAPL", "buy", "1", "189")
    for i in range(70):  # calm for two minutes, then again
        later.order(200 + i * 0.5, "A", "AAPL", "buy", "1", "189")
    assert len(findings(later, "rapid_fire")) == 2


def test_no_rapid_fire_at_the_limit_or_spread_over_accounts():
    s = Stream()
    for i in range(60):
        s.order(i, "A", "AAPL", "buy", "1", "189")
    for i in range(100):
        s.order(i * 0.5, f"ACC{i % 4}", "AAPL", "buy", "1", "189", rejected=True)
    assert findings(s, "rapid_fire") == []


# --- concentration ----------------------------------------------------------------------------


class Book:
    def __init__(self, books):
        self.books = books

    def book(self, account):
        return {k: list(v) for k, v in self.books.get(account, {}).items()}


def test_concentration_above_the_share():
    context = Book({"A": {"MSFT": [Decimal(10), Decimal(400)], "IBM": [Decimal(10), Decimal(200)]}})
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "10", "190", position="10")  # 1900 of 7900: 24%
    s.trade(10, "A", "AAPL", "buy", "10", "190", position="20")  # 3800 of 9800: 38.8%
    s.trade(20, "A", "AAPL", "buy", "10", "190", position="30")  # still above: no new finding
    [found] = findings(s, "concentration", context=context)
    assert found.details["share_pct"] == "38.78" and found.instrument == "AAPL"


def test_no_concentration_for_one_instrument_books_or_below_the_share():
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "10", "190", position="10")  # the only position
    s.trade(1, "B", "AAPL", "buy", "1", "190", position="1")
    context = Book({"B": {"MSFT": [Decimal(10), Decimal(400)], "IBM": [Decimal(10), Decimal(400)]}})
    assert findings(s, "concentration", context=context) == []


class ValuedBook(Book):
    """A book whose instruments are worth more than price x quantity per unit (contracts)."""

    def __init__(self, books, factors):
        super().__init__(books)
        self.factors = factors

    def value_factor(self, symbol):
        return self.factors.get(symbol, Decimal(1))


def test_concentration_values_option_contracts_at_their_size():
    """10 option contracts at 5 are 5,000 (x 100), not 50: against 7,000 of shares that is
    41.7% of the book, above a 25% share; counted per unit it would be 0.7% and pass."""
    shares = {"MSFT": [Decimal(10), Decimal(400)], "IBM": [Decimal(15), Decimal(200)]}
    s = Stream()
    s.trade(0, "A", "AAPL-C", "buy", "10", "5", position="10")
    valued = ValuedBook({"A": shares}, {"AAPL-C": Decimal(100)})
    [found] = findings(s, "concentration", context=valued)
    assert found.instrument == "AAPL-C" and found.details["share_pct"] == "41.67"
    assert findings(s, "concentration", context=Book({"A": shares})) == []


@pytest.mark.django_db
def test_the_run_context_values_units_by_multiplier_and_fx():
    from apps.trading.services import fx_rate_record
    from tests.trading.factories import InstrumentFactory

    InstrumentFactory(symbol="OPT-T", multiplier=Decimal(100))
    InstrumentFactory(symbol="EUR-T", currency="EUR")
    fx_rate_record(base="EUR", quote="USD", rate="1.1")
    context = StreamContext.from_database()
    assert context.value_factor("OPT-T") == Decimal(100)
    assert context.value_factor("EUR-T") == Decimal("1.1")


# --- marking the close ------------------------------------------------------------------------


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() - T0


def test_marking_the_close_aggressive_buy_in_the_last_minutes():
    context = StreamContext({"AAPL": "XNYS", "BTC-USD": "24/7"})
    s = Stream()
    # 2025-11-20 is a Thursday; NYSE closes at 21:00 UTC.
    s.trade(_at("2025-11-20T20:55:00"), "A", "AAPL", "buy", "100", "191.00", ref="189.00")
    order, trade = findings(s, "marking_close", context=context)  # one pattern: one key
    assert order.key == trade.key and "order buy" in order.title and "trade buy" in trade.title
    assert trade.details["move_bps"] == "105.8" and trade.details["session"] == "2025-11-20"
    assert trade.details["minutes_before_close"] == 5.0


def test_no_marking_the_close_early_passive_or_on_a_venue_that_never_closes():
    context = StreamContext({"AAPL": "XNYS", "BTC-USD": "24/7"})
    s = Stream()
    s.trade(_at("2025-11-20T20:30:00"), "A", "AAPL", "buy", "100", "191.00", ref="189.00")
    s.trade(_at("2025-11-20T20:56:00"), "A", "AAPL", "buy", "100", "188.00", ref="189.00")
    s.trade(_at("2025-11-20T20:57:00"), "A", "AAPL", "sell", "100", "191.00", ref="189.00")
    s.trade(_at("2025-11-20T23:58:00"), "A", "BTC-USD", "buy", "1", "99000", ref="90000")
    s.trade(_at("2025-11-22T20:55:00"), "A", "AAPL", "buy", "100", "191.00", ref="189.00")
    assert findings(s, "marking_close", context=context) == []


# --- gate reconciliation ----------------------------------------------------------------------


def test_gate_reconciliation_missing_check_override_and_overfill():
    s = Stream()
    s.execution(0, "A", "AAPL", "buy", "100", "189", client_order_id="ghost")
    s.execution(
        1,
        "A",
        "AAPL",
        "buy",
        "100",
        "189",
        order_id=7,
        status="rejected",
        ordered="100",
        client_order_id="c-7",
    )
    s.execution(
        2,
        "A",
        "AAPL",
        "buy",
        "150",
        "189",
        order_id=8,
        status="filled",
        ordered="100",
        total="150",
        client_order_id="c-8",
    )
    s.execution(
        3,
        "A",
        "AAPL",
        "buy",
        "10",
        "189",
        order_id=9,
        status="pending_approval",
        ordered="100",
        client_order_id="c-9",
    )
    found = findings(s, "gate_reconciliation")
    assert [f.details["finding"] for f in found] == [
        "missing_risk_check",
        "risk_override",
        "overfill",
        "missing_risk_check",
    ]
    assert all(f.severity == "critical" for f in found)


def test_no_gate_finding_for_an_execution_of_an_accepted_order_within_its_quantity():
    s = Stream()
    s.execution(0, "A", "AAPL", "buy", "60", "189", order_id=7, status="accepted", ordered="100")
    s.execution(
        1,
        "A",
        "AAPL",
        "buy",
        "40",
        "189",
        order_id=7,
        status="partially_filled",
        ordered="100",
        total="100",
    )
    assert findings(s, "gate_reconciliation") == []


# --- parameters and the engine ----------------------------------------------------------------


def test_parameters_are_checked():
    with pytest.raises(ValidationFailed) as exc:
        params_validated(DETECTORS["spoofing"].params_spec, {"size_multiple": "0.5", "bogus": 1})
    assert set(exc.value.details) == {"size_multiple", "params"}
    with pytest.raises(ValidationFailed):
        params_validated(DETECTORS["rapid_fire"].params_spec, {"max_orders": 1.5})
    with pytest.raises(ValidationFailed) as exc:
        params_validated(DETECTORS["layering"].params_spec, {"group_by": "owner,desk"})
    assert set(exc.value.details) == {"group_by"}
    assert (
        params_validated(DETECTORS["layering"].params_spec, {"group_by": "trader, owner"})[
            "group_by"
        ]
        == "trader,owner"
    )
    assert params_validated(DETECTORS["rapid_fire"].params_spec, {"max_orders": "90"}) == {
        "max_orders": 90,
        "window_seconds": 60,
        "dedup_seconds": 3600,
    }


def test_events_up_to_the_watermark_only_fill_the_windows():
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "100", "189.50")
    s.trade(3, "A", "AAPL", "sell", "100", "189.50")
    split = s.seq  # the pair was analysed by an earlier run
    s.trade(4, "A", "AAPL", "buy", "100", "189.50")
    s.trade(5, "A", "AAPL", "sell", "100", "189.50")  # completes a second pair
    engine = Engine.build({"wash_trade": {}})
    [found] = engine.run(s.events, emit_after=split)
    assert found.seq > split and found.fills == (3, 4)
