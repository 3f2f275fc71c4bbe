"""`import_market_data FILE`: trades and quotes from one CSV, all lines or none, each bad line
named."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.marketdata.models import MarketQuote, MarketTrade

HEADER = "type,instrument,time,venue,price,quantity,trade_id,condition,bid,bid_size,ask,ask_size\n"
GOOD = (
    "trade,AAPL,2025-11-20T20:59:00Z,XNAS,189.50,300,T-1,,,,,\n"
    "quote,AAPL,2025-11-20T20:59:01Z,XNAS,,,,,189.49,100,189.52,200\n"
    "trade,AAPL,2025-11-20T21:00:00Z,XNAS,189.60,90000,T-2,closing_auction,,,,\n"
)


def _import(tmp_path, text: str) -> str:
    path = tmp_path / "tape.csv"
    path.write_text(text)
    out = StringIO()
    call_command("import_market_data", str(path), stdout=out)
    return out.getvalue()


def test_imports_trades_and_quotes_and_is_idempotent(tmp_path, instrument):
    said = _import(tmp_path, HEADER + GOOD)
    assert "2 trade(s) and 1 quote(s) recorded" in said
    assert MarketTrade.objects.get(trade_id="T-2").condition == "closing_auction"
    assert MarketQuote.objects.get().ask_size == 200
    events = AuditEvent.objects.filter(event_type="MARKET_DATA_RECORDED")
    assert sorted(json.loads(e.record)["payload"]["source"] for e in events) == ["import"] * 2
    again = _import(tmp_path, HEADER + GOOD)
    assert "0 trade(s) and 0 quote(s) recorded; 2 trade(s) and 1 quote(s) already" in again
    assert MarketTrade.objects.count() == 2


@pytest.mark.parametrize(
    "line, named",
    [
        ("trade,AAPL,2025-11-20T20:59:00Z,XNAS,0,300,T-3,,,,,\n", "line 5: price"),
        ("trade,NOPE,2025-11-20T20:59:00Z,XNAS,1,300,T-3,,,,,\n", "line 5: instrument"),
        ("trade,AAPL,2025-11-20 20:59,XNAS,1,300,T-3,,,,,\n", "line 5: time"),
        ("trade,AAPL,2025-11-20T20:59:00Z,QQQQ,1,300,T-3,,,,,\n", "line 5: venue"),
        ("quote,AAPL,2025-11-20T20:59:00Z,XNAS,,,,,190,1,189,1\n", "line 5: ask"),
        ("print,AAPL,2025-11-20T20:59:00Z,XNAS,1,1,,,,,,\n", "line 5: type"),
        ("trade,AAPL,2025-11-20T20:59:00Z,XNAS,2,300,T-1,,,,,\n", "line 5: trade_id"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_imported(tmp_path, instrument, line, named):
    with pytest.raises(CommandError, match=named):
        _import(tmp_path, HEADER + GOOD + line)
    assert not MarketTrade.objects.exists() and not MarketQuote.objects.exists()
    assert not AuditEvent.objects.filter(event_type="MARKET_DATA_RECORDED").exists()


def test_a_trade_id_on_record_with_other_values_is_named(tmp_path, instrument):
    _import(tmp_path, HEADER + GOOD)
    with pytest.raises(CommandError, match="line 2: trade_id"):
        _import(tmp_path, HEADER + GOOD.replace("189.50,300", "189.55,300"))
    assert MarketTrade.objects.count() == 2


@pytest.mark.parametrize(
    "text, message",
    [
        ("instrument,time\nAAPL,2025-11-20T20:59:00Z\n", "line 1: the header"),
        ("type,time,colour\ntrade,2025-11-20T20:59:00Z,blue\n", "line 1: unknown column"),
        (HEADER, "holds no trades or quotes"),
    ],
)
def test_a_bad_file_is_refused(tmp_path, instrument, text, message):
    with pytest.raises(CommandError, match=message):
        _import(tmp_path, text)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_market_data", str(tmp_path / "nope.csv"))


def test_a_file_larger_than_one_batch_is_imported_whole(tmp_path, instrument, settings):
    settings.MARKET_DATA_BATCH_MAX = 2
    rows = "".join(
        f"trade,AAPL,2025-11-20T20:{m:02d}:00Z,XNAS,189.5,10,T-{m},,,,,\n" for m in range(5)
    )
    _import(tmp_path, HEADER + rows)
    assert MarketTrade.objects.count() == 5


def test_the_service_checks_rows_that_no_serializer_read(instrument):
    from datetime import datetime

    from apps.core.errors import ValidationFailed
    from apps.marketdata.services import market_trades_record

    row = {
        "instrument": instrument,
        "executed_at": datetime(2025, 11, 20, 20, 0),  # naive
        "price": Decimal("-1"),
        "quantity": Decimal("10"),
        "venue": "XNAS",
    }
    with pytest.raises(ValidationFailed) as refused:
        market_trades_record(trades=[row], actor="test")
    assert set(refused.value.details) == {"trades[0].price", "trades[0].executed_at"}
    assert not MarketTrade.objects.exists()
