"""The alert page's timeline chart: orders and fills around an alert as an inline SVG.

Drawn on the server, so the picture needs no JavaScript and no outside library, and a test can
parse it. Time runs along the x axis and price up the y axis. Orders are triangles (buy: green,
pointing up; sell: red, pointing down), fills are filled circles, drop-copy executions diamonds.
A canceled order is hollow, with a dashed line from its placement to its cancel, which ends in a
cross. What the alert names as evidence is ringed in amber, and the alert's window is shaded.

Every marker carries `class="marker order|fill|execution buy|sell ..."` and `data-id`, and a
`<title>` that a browser shows on hover.
"""

import math
from datetime import UTC, datetime
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 78, 36, 56, 58
BUY, SELL = "#079455", "#d92d20"
EVIDENCE = "#f79009"
WINDOW_FILL = "#fef0c7"
GRID = "#eaecf0"
INK = "#344054"
MUTED = "#667085"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
# Tick steps of the time axis, in seconds: from a millisecond to a day.
TIME_STEPS = [
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    21600,
    43200,
    86400,
]
MAX_TICKS = 8


def _num(value: float) -> str:
    return f"{value:.1f}"


def _attr(value) -> str:
    return escape(str(value))


def _nice_step(span: float, max_ticks: int) -> float:
    """1, 2 or 5 times a power of ten: the smallest such step giving at most max_ticks ticks."""
    raw = span / max_ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power


def _price_ticks(low: float, high: float) -> tuple[list[float], int]:
    step = _nice_step(high - low, 6)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    first = math.ceil(low / step)
    ticks = []
    k = first
    while k * step <= high + step * 1e-9:
        ticks.append(k * step)
        k += 1
    return ticks, decimals


def _time_ticks(start: float, end: float) -> tuple[list[float], int]:
    span = end - start
    step = next((s for s in TIME_STEPS if span / s <= MAX_TICKS), TIME_STEPS[-1])
    decimals = 0 if step >= 1 else (1 if step >= 0.1 else (2 if step >= 0.01 else 3))
    ticks = []
    k = math.ceil(start / step)
    while k * step <= end:
        ticks.append(k * step)
        k += 1
    return ticks, decimals


def _time_label(ts: float, decimals: int) -> str:
    scale = 10**decimals
    seconds, fraction = divmod(round(ts * scale), scale)
    label = datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S")
    return f"{label}.{fraction:0{decimals}d}" if decimals else label


def _domain(low: float, high: float, *, pad_share: float, minimum_pad: float):
    pad = (high - low) * pad_share
    if pad <= 0:
        pad = minimum_pad
    return low - pad, high + pad


def _triangle(x: float, y: float, up: bool, size: float = 7.5) -> str:
    if up:
        points = [(x, y - size), (x - size, y + size * 0.75), (x + size, y + size * 0.75)]
    else:
        points = [(x, y + size), (x - size, y - size * 0.75), (x + size, y - size * 0.75)]
    return " ".join(f"{_num(px)},{_num(py)}" for px, py in points)


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.normalize():f}"


def timeline_svg(
    timeline: dict,
    *,
    window_start: datetime,
    window_end: datetime,
    currency: str = "",
    caption: str = "Orders and fills around the alert",
) -> SafeString:
    """The chart of `selectors.alert_timeline(alert)` as an `<svg>` element."""
    orders = [o for o in timeline["orders"] if o["price"] is not None]
    unpriced = len(timeline["orders"]) - len(orders)
    fills = timeline["fills"]
    executions = timeline.get("executions", [])
    win_start, win_end = window_start.timestamp(), window_end.timestamp()

    times = [win_start, win_end]
    prices: list[float] = []
    for o in orders:
        times.append(o["at"].timestamp())
        if o["canceled_at"] is not None:
            times.append(o["canceled_at"].timestamp())
        prices.append(float(o["price"]))
    for f in fills:
        times.append(f["at"].timestamp())
        prices.append(float(f["price"]))
    for e in executions:
        times.append(e.executed_at.timestamp())
        prices.append(float(e.price))

    t0, t1 = _domain(min(times), max(times), pad_share=0.06, minimum_pad=1.0)
    if prices:
        low, high = min(prices), max(prices)
        p0, p1 = _domain(low, high, pad_share=0.12, minimum_pad=max(abs(low) * 0.005, 0.01))
    else:
        p0, p1 = 0.0, 1.0

    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(ts: float) -> float:
        return LEFT + (ts - t0) / (t1 - t0) * plot_w

    def y_of(price: float) -> float:
        return TOP + (p1 - price) / (p1 - p0) * plot_h

    canceled = sum(1 for o in orders if o["canceled_at"] is not None)
    description = (
        f"{len(orders)} orders ({canceled} canceled), {len(fills)} fills"
        + (f", {len(executions)} reported executions" if executions else "")
        + f", from {_time_label(t0, 0)} to {_time_label(t1, 0)} UTC."
    )
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="timeline-title timeline-desc" {FONT} font-size="12">',
        f'<title id="timeline-title">{escape(caption)}</title>',
        f'<desc id="timeline-desc">{escape(description)}</desc>',
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
        f'fill="#fff" stroke="{GRID}"/>',
    ]

    # The alert's window, shaded (at least a hairline when it is an instant).
    wx0, wx1 = x_of(win_start), x_of(win_end)
    out.append(
        f'<rect class="alert-window" x="{_num(wx0 - (1 if wx1 - wx0 < 2 else 0))}" y="{TOP}" '
        f'width="{_num(max(wx1 - wx0, 2))}" height="{plot_h}" fill="{WINDOW_FILL}" '
        f'fill-opacity="0.8"><title>Alert window: {_time_label(win_start, 3)} to '
        f"{_time_label(win_end, 3)} UTC</title></rect>"
    )

    # Grid and axes.
    price_ticks, price_decimals = _price_ticks(p0, p1) if prices else ([], 0)
    out.append('<g class="axis y-axis">')
    for tick in price_ticks:
        y = y_of(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID}"/>'
            f'<text class="tick" x="{LEFT - 8}" y="{_num(y + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{tick:.{price_decimals}f}</text>'
        )
    price_label = f"Price ({currency})" if currency else "Price"
    out.append(
        f'<text class="axis-label" transform="translate(18 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="{INK}" font-weight="600">{escape(price_label)}</text></g>'
    )
    time_ticks, time_decimals = _time_ticks(t0, t1)
    out.append('<g class="axis x-axis">')
    for tick in time_ticks:
        x = x_of(tick)
        # a label near the right edge ends at its tick rather than running off the picture
        anchor = "end" if x > WIDTH - 60 else "middle"
        out.append(
            f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'stroke="{GRID}"/>'
            f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}" '
            f'stroke="{MUTED}"/>'
            f'<text class="tick" x="{_num(x)}" y="{TOP + plot_h + 18}" text-anchor="{anchor}" '
            f'fill="{MUTED}">{_time_label(tick, time_decimals)}</text>'
        )
    day = datetime.fromtimestamp(t0, tz=UTC).strftime("%Y-%m-%d")
    out.append(
        f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" '
        f'text-anchor="middle" fill="{INK}" font-weight="600">Time (UTC, {day})</text></g>'
    )

    if not (orders or fills or executions):
        out.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle" fill="{MUTED}">No orders or fills in this window.</text>'
        )

    # Evidence rings first, so that the markers sit on top of them.
    out.append('<g class="evidence-rings">')
    for item, ts in [(o, o["at"]) for o in orders if o["evidence"]] + [
        (f, f["at"]) for f in fills if f["evidence"]
    ]:
        out.append(
            f'<circle class="evidence-ring" cx="{_num(x_of(ts.timestamp()))}" '
            f'cy="{_num(y_of(float(item["price"])))}" r="12" fill="{EVIDENCE}" '
            f'fill-opacity="0.18" stroke="{EVIDENCE}" stroke-width="2.5"/>'
        )
    out.append("</g>")

    # Cancels: a dashed line from placement to cancel, ending in a cross.
    out.append('<g class="cancels">')
    for o in orders:
        if o["canceled_at"] is None:
            continue
        color = BUY if o["side"] == "buy" else SELL
        x0, x1 = x_of(o["at"].timestamp()), x_of(o["canceled_at"].timestamp())
        y = y_of(float(o["price"]))
        out.append(
            f'<g class="cancel" data-order="{o["id"]}">'
            f'<line class="cancel-line" x1="{_num(x0)}" x2="{_num(x1)}" y1="{_num(y)}" '
            f'y2="{_num(y)}" stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<path class="cancel-mark" d="M{_num(x1 - 4)},{_num(y - 4)} L{_num(x1 + 4)},'
            f'{_num(y + 4)} M{_num(x1 - 4)},{_num(y + 4)} L{_num(x1 + 4)},{_num(y - 4)}" '
            f'stroke="{color}" stroke-width="2"/></g>'
        )
    out.append("</g>")

    out.append('<g class="orders">')
    for o in orders:
        is_buy = o["side"] == "buy"
        color = BUY if is_buy else SELL
        is_canceled = o["canceled_at"] is not None
        classes = ["marker", "order", "buy" if is_buy else "sell"]
        if is_canceled:
            classes.append("canceled")
        if o["evidence"]:
            classes.append("evidence")
        fill = "#fff" if is_canceled else color
        title = (
            f"Order #{o['id']} {o['account']}: {o['side']} {_fmt(o['quantity'])} at "
            f"{_fmt(o['price'])}, placed {_time_label(o['at'].timestamp(), 3)}"
            + (f", canceled {_time_label(o['canceled_at'].timestamp(), 3)}" if is_canceled else "")
            + f" ({o['status']})"
            + (" · evidence" if o["evidence"] else "")
        )
        out.append(
            f'<polygon class="{" ".join(classes)}" data-id="{o["id"]}" data-side="{o["side"]}" '
            f'points="{_triangle(x_of(o["at"].timestamp()), y_of(float(o["price"])), is_buy)}" '
            f'fill="{fill}" stroke="{color}" stroke-width="2"><title>{escape(title)}</title>'
            "</polygon>"
        )
    out.append("</g>")

    out.append('<g class="fills">')
    for f in fills:
        is_buy = f["side"] == "buy"
        color = BUY if is_buy else SELL
        classes = ["marker", "fill", "buy" if is_buy else "sell"]
        if f["evidence"]:
            classes.append("evidence")
        title = (
            f"Fill #{f['id']} of order #{f['order']} {f['account']}: {f['side']} "
            f"{_fmt(f['quantity'])} at {_fmt(f['price'])}, {_time_label(f['at'].timestamp(), 3)}"
            + (" · evidence" if f["evidence"] else "")
        )
        out.append(
            f'<circle class="{" ".join(classes)}" data-id="{f["id"]}" data-side="{f["side"]}" '
            f'cx="{_num(x_of(f["at"].timestamp()))}" cy="{_num(y_of(float(f["price"])))}" r="5.5" '
            f'fill="{color}" stroke="#fff" stroke-width="1.5"><title>{escape(title)}</title>'
            "</circle>"
        )
    out.append("</g>")

    out.append('<g class="executions">')
    for e in executions:
        is_buy = e.side == "buy"
        color = BUY if is_buy else SELL
        x, y = x_of(e.executed_at.timestamp()), y_of(float(e.price))
        title = (
            f"Reported execution {e.exec_id} ({e.client_order_id}): {e.side} {_fmt(e.quantity)} "
            f"at {_fmt(e.price)}, {_time_label(e.executed_at.timestamp(), 3)}"
        )
        out.append(
            f'<path class="marker execution {"buy" if is_buy else "sell"} evidence" '
            f'data-id="{e.pk}" data-side="{_attr(e.side)}" '
            f'd="M{_num(x)},{_num(y - 8)} L{_num(x + 8)},{_num(y)} L{_num(x)},{_num(y + 8)} '
            f'L{_num(x - 8)},{_num(y)} Z" fill="{color}" stroke="{EVIDENCE}" stroke-width="2.5">'
            f"<title>{escape(title)}</title></path>"
        )
    out.append("</g>")

    out.append(_legend(with_executions=bool(executions)))
    if unpriced:
        out.append(
            f'<text class="note" x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" '
            f'fill="{MUTED}">{unpriced} order(s) without a price not drawn</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text and attribute above is escaped


def _legend(*, with_executions: bool) -> str:
    """One row above the plot: what each mark means."""
    items = [
        ("buy order", _triangle(0, 0, True, 6), BUY, BUY, "polygon"),
        ("sell order", _triangle(0, 0, False, 6), SELL, SELL, "polygon"),
        ("canceled order", _triangle(0, 0, True, 6), "#fff", BUY, "polygon"),
        ("buy fill", None, BUY, "#fff", "circle"),
        ("sell fill", None, SELL, "#fff", "circle"),
    ]
    if with_executions:
        items.append(("reported execution", None, BUY, EVIDENCE, "diamond"))
    out = [f'<g class="legend" transform="translate({LEFT} 22)">']
    x = 0.0
    for label, points, fill, stroke, shape in items:
        out.append(f'<g class="legend-item" transform="translate({_num(x)} 0)">')
        if shape == "polygon":
            out.append(
                f'<polygon class="legend-swatch" points="{points}" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="2"/>'
            )
            if label == "canceled order":
                out.append(
                    f'<line x1="7" x2="20" y1="0" y2="0" stroke="{BUY}" stroke-width="1.5" '
                    'stroke-dasharray="3 2"/>'
                    f'<path d="M17,-3 L23,3 M17,3 L23,-3" stroke="{BUY}" stroke-width="2"/>'
                )
        elif shape == "circle":
            out.append(
                f'<circle class="legend-swatch" r="5.5" fill="{fill}" stroke="{stroke}" '
                'stroke-width="1.5"/>'
            )
        else:
            out.append(
                f'<path class="legend-swatch" d="M0,-7 L7,0 L0,7 L-7,0 Z" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="2"/>'
            )
        offset = 30 if label == "canceled order" else 12
        out.append(f'<text x="{offset}" y="4" fill="{INK}">{label}</text></g>')
        x += offset + 7.2 * len(label) + 22
    out.append(
        f'<g class="legend-item" transform="translate({_num(x)} 0)">'
        f'<circle class="legend-swatch" r="8" fill="{EVIDENCE}" fill-opacity="0.18" '
        f'stroke="{EVIDENCE}" stroke-width="2.5"/><text x="14" y="4" fill="{INK}">evidence</text>'
        "</g>"
    )
    x += 14 + 7.2 * len("evidence") + 22
    out.append(
        f'<g class="legend-item" transform="translate({_num(x)} 0)">'
        f'<rect class="legend-swatch" x="-7" y="-7" width="14" height="14" fill="{WINDOW_FILL}"/>'
        f'<text x="12" y="4" fill="{INK}">alert window</text></g>'
    )
    out.append("</g>")
    return "".join(out)
