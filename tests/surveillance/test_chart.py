"""The timeline chart on its own: edge cases that the pages' data rarely produce."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.surveillance.chart import timeline_svg

T0 = datetime(2026, 11, 20, 15, 4, 5, tzinfo=UTC)


def order(pk, side="buy", price="100", at=T0, canceled_at=None, account="ACC-1", evidence=False):
    return {
        "id": pk,
        "at": at,
        "side": side,
        "price": Decimal(price) if price is not None else None,
        "quantity": Decimal("10"),
        "status": "canceled" if canceled_at else "accepted",
        "canceled_at": canceled_at,
        "account": account,
        "evidence": evidence,
    }


def draw(orders=(), fills=(), executions=(), **kwargs) -> ET.Element:
    svg = timeline_svg(
        {"orders": list(orders), "fills": list(fills), "executions": list(executions)},
        window_start=kwargs.pop("window_start", T0),
        window_end=kwargs.pop("window_end", T0 + timedelta(seconds=2)),
        **kwargs,
    )
    return ET.fromstring(str(svg))


def texts(svg) -> str:
    return " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))


def test_nothing_in_the_window_says_so():
    svg = draw()
    assert "No orders or fills in this window." in texts(svg)
    assert "Time (UTC, 2026-11-20)" in texts(svg)


def test_one_point_at_one_instant_is_drawn_inside_the_plot():
    svg = draw([order(1)], window_end=T0, currency="EUR")
    (marker,) = [e for e in svg.iter() if "marker" in (e.get("class") or "")]
    xs = [float(p.split(",")[0]) for p in marker.get("points").split()]
    ys = [float(p.split(",")[1]) for p in marker.get("points").split()]
    assert all(0 < x < 960 for x in xs) and all(0 < y < 380 for y in ys)
    assert "Price (EUR)" in texts(svg)


def test_an_order_without_a_price_is_counted_not_drawn():
    svg = draw([order(1), order(2, price=None)])
    assert len([e for e in svg.iter() if "order" in (e.get("class") or "").split()]) == 1
    assert "1 order(s) without a price not drawn" in texts(svg)


def test_text_from_the_data_is_escaped():
    svg = draw([order(1, account='<b>&"x"</b>')], caption="Alert <1> & co")
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert "Alert <1> & co" in titles
    assert any('<b>&"x"</b>' in (t or "") for t in titles)


def test_sub_second_windows_get_millisecond_ticks_and_long_ones_whole_seconds():
    short = draw(
        [order(1), order(2, at=T0 + timedelta(milliseconds=40))],
        window_end=T0 + timedelta(milliseconds=40),
    )
    assert "15:04:05.01 " in texts(short) and "15:04:05.02 " in texts(short)
    long = draw(
        [order(1), order(2, at=T0 + timedelta(minutes=10))], window_end=T0 + timedelta(minutes=10)
    )
    assert "15:06:00" in texts(long) and "15:06:00." not in texts(long)


def test_a_cancel_is_a_dashed_line_to_a_cross_at_the_cancel_time():
    svg = draw([order(1, canceled_at=T0 + timedelta(seconds=1))])
    (cancel,) = [g for g in svg.iter() if (g.get("class") or "") == "cancel"]
    line = next(e for e in cancel if e.get("class") == "cancel-line")
    assert line.get("stroke-dasharray") and float(line.get("x2")) > float(line.get("x1"))
    assert any(e.get("class") == "cancel-mark" for e in cancel)
