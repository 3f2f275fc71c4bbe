"""Numbers, times and evidence as people read them, on every page (a template builtin).

- `qty`: a quantity without trailing zeros, thousands separated: 1,250 · 0.0125 · -300.
- `price`: a price with at least two decimals and no trailing zeros beyond: 189.50 · 0.00012.
- `amount`: money, thousands separated, two decimals (`amount:0` for whole units): 1,740,109.23.
- `score`: a 0-1 score with two decimals: 0.80.
- `utc`: a time with seconds and its zone: 2026-12-06 17:20:33 UTC (`utc:"ms"` adds milliseconds).
- `evidence`: a detector's or check's value as text: lists joined, yes/no for booleans,
  objects as "key: value" pairs; never Python's repr.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()
_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


def _decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _grouped(number: Decimal, places: int | None) -> str:
    """Thousands separated; `places` fixed, or None for as many as the number has (no
    trailing zeros)."""
    if places is None:
        text = f"{number:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        whole, _, fraction = text.partition(".")
    else:
        text = f"{number:.{places}f}"
        whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or '0'):,}"
    out = f"{sign}{whole}" + (f".{fraction}" if fraction else "")
    return "0" if out in ("-0", "") else out


@register.filter
def qty(value) -> str:
    number = _decimal(value)
    return "" if number is None else _grouped(number, None)


@register.filter
def price(value) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    plain = _grouped(number, None)
    decimals = len(plain.partition(".")[2])
    return _grouped(number, 2) if decimals < 2 else plain


@register.filter
def amount(value, places=2) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    try:
        places = max(0, min(int(places), 8))
    except (TypeError, ValueError):
        places = 2
    return _grouped(number, places)


@register.filter
def score(value) -> str:
    number = _decimal(value)
    return "" if number is None else f"{number:.2f}"


@register.filter
def utc(value, precision="s") -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        when = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        stamp = f"{when:%Y-%m-%d %H:%M:%S}"
        if precision == "ms":
            stamp += f".{when.microsecond // 1000:03d}"
        return f"{stamp} UTC"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return "" if value is None else str(value)


def _text(value, depth: int = 0) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int | float):
        number = _decimal(value)
        return _grouped(number, None) if number is not None else str(value)
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, dict):
        if depth > 2:
            return "…"
        return "; ".join(
            f"{str(k).replace('_', ' ')}: {_text(v, depth + 1)}" for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        if not items:
            return "none"
        return ", ".join(_text(v, depth + 1) for v in items)
    if isinstance(value, str):
        if _DECIMAL_TEXT.fullmatch(value):  # "1.00000000": an amount stored as a string
            return _grouped(Decimal(value), None)
        return value  # codes and ids ("0012", "ACC-001") stay as they are
    return str(value)


@register.filter
def evidence(value) -> str:
    return _text(value)


@register.filter
def humanize_key(value) -> str:
    """A details key as a label: "seconds_apart" -> "Seconds apart"."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
