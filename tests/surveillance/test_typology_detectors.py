"""The new detectors on hand-built streams: what each leaves out."""

from types import SimpleNamespace

from tests.surveillance.streams import Stream, findings


def _context(**kinds):
    return SimpleNamespace(account_kind=lambda code: kinds.get(code, "client"))


def _cross(stream, t, buyer, seller, qty="3000", price="100"):
    buy = stream.order(t, buyer, "AAPL", "buy", qty, price)
    sell = stream.order(t + 0.5, seller, "AAPL", "sell", qty, price)
    stream.fill(t + 0.5, buy, qty, price)
    stream.fill(t + 0.5, sell, qty, price)


def test_matched_orders_repeat_scores_higher_and_leaves_out_one_owner_and_makers():
    stream = Stream(owners={"A": "Owner A", "A2": "Owner A", "B": "Owner B", "MM": "Maker"})
    _cross(stream, 0, "A", "B")
    _cross(stream, 600, "A", "B")
    _cross(stream, 1200, "A", "A2")  # one owner: a wash trade, not this
    _cross(stream, 1800, "MM", "B")  # a market maker trades with everyone
    found = findings(stream, "matched_orders", context=_context(MM="market_maker"))
    assert [f.details["repeats"] for f in found] == [1, 2]
    assert found[1].score > found[0].score
    related = SimpleNamespace(
        account_kind=_context(MM="market_maker").account_kind,
        related_owners={"Owner A": "G", "Owner B": "G"},
    )
    assert findings(stream, "matched_orders", context=related) == []


def test_matched_orders_needs_both_orders_entered_together():
    stream = Stream()
    buy = stream.order(0, "A", "AAPL", "buy", "3000", "100")
    sell = stream.order(30, "B", "AAPL", "sell", "3000", "100")
    stream.fill(30, buy, "3000", "100")
    stream.fill(30, sell, "3000", "100")
    assert findings(stream, "matched_orders") == []


def test_excessive_messaging_counts_every_kind_once_per_burst():
    stream = Stream()
    order_id = stream.order(0, "A", "AAPL", "buy", "10", "99")
    for i in range(150):
        stream.order(0.001 * (i + 1), "A", "AAPL", "buy", "1", "98")
    stream.cancel(0.2, order_id)
    found = findings(stream, "excessive_messaging")
    assert len(found) == 1 and found[0].details["messages"] == 101
    assert findings(stream, "excessive_messaging", {"max_messages": 200}) == []


def test_front_running_leaves_out_market_makers_and_the_other_side():
    stream = Stream()
    client = stream.order(0, "C", "AAPL", "buy", "5000", "100")
    stream.trade(10, "MM", "AAPL", "buy", "100", "100")
    stream.trade(12, "P", "AAPL", "sell", "100", "100")
    stream.fill(20, client, "5000", "100")
    stream.trade(30, "P", "AAPL", "buy", "100", "100")  # after the client order was done
    context = _context(MM="market_maker", P="proprietary", C="client")
    assert findings(stream, "front_running", context=context) == []
    late = Stream()
    client = late.order(0, "C", "AAPL", "buy", "5000", "100")
    late.trade(400, "P", "AAPL", "buy", "100", "100")  # more than max_lag_seconds later
    assert findings(late, "front_running", context=context) == []
    assert len(findings(late, "front_running", {"max_lag_seconds": 600}, context=context)) == 1


def test_insider_dealing_reads_the_additions_and_the_issuer():
    stream = Stream()
    stream.trade(0, "A", "AAPL", "buy", "3000", "100")
    stream.trade(5, "B", "MSFT", "buy", "3000", "100")
    stream.trade(4000, "C", "MSFT", "buy", "1", "100")
    context = SimpleNamespace(
        account_kind=lambda code: "client",
        symbols_of_issuer=lambda issuer: ["AAPL"] if issuer == "Apple" else [],
        list_additions=lambda: (
            1,
            ((3600.0 + stream.events[0].ts, "watch_list", 7, "", "Apple", "Mandate"),),
        ),  # fmt: skip
    )
    found = findings(stream, "insider_dealing", context=context)
    assert [(f.account, f.instrument, f.details["entry_id"]) for f in found] == [("A", "AAPL", 7)]
    assert findings(stream, "insider_dealing", {"lookback_hours": 1}, context=context) == []
