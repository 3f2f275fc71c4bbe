"""Money and quantity types: Decimal end to end, never float."""

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from apps.core.errors import ValidationFailed, field_errors

# Storage precision shared by every amount column: 24 digits, 8 after the point.
AMOUNT_MAX_DIGITS = 24
AMOUNT_DECIMAL_PLACES = 8
QUANT = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)
# What a client may send as an amount: ASCII digits, one optional point and sign, an optional
# exponent. Python's Decimal also reads other scripts' digits ("١") and underscores ("1_0"),
# which no trading system means as an amount.
_AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# The largest absolute amount that fits the columns (16 digits before the point).
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)


def quantize(value: Decimal) -> Decimal:
    return value.quantize(QUANT, rounding=ROUND_HALF_EVEN)


def to_decimal(value, *, field: str, positive: bool = False, allow_zero: bool = True) -> Decimal:
    """Parse a client amount: a decimal string or int. Floats, NaN, infinities are refused."""
    if isinstance(value, bool | float):
        raise ValidationFailed(details=field_errors(**{field: "Send amounts as decimal strings."}))
    if isinstance(value, str) and not _AMOUNT_TEXT.fullmatch(value.strip()):
        if value.strip().lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            raise ValidationFailed(details=field_errors(**{field: "Must be a finite number."}))
        raise ValidationFailed(
            details=field_errors(**{field: "Not a decimal number (ASCII digits 0-9 only)."})
        )
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed(details=field_errors(**{field: "Not a decimal number."})) from None
    if not dec.is_finite():
        raise ValidationFailed(details=field_errors(**{field: "Must be a finite number."}))
    if abs(dec) >= AMOUNT_LIMIT:
        raise ValidationFailed(details=field_errors(**{field: "Amount out of range."}))
    if dec != quantize(dec):
        raise ValidationFailed(
            details=field_errors(
                **{field: f"At most {AMOUNT_DECIMAL_PLACES} digits after the decimal point."}
            )
        )
    if positive and dec <= 0:
        raise ValidationFailed(details=field_errors(**{field: "Must be greater than zero."}))
    if not allow_zero and dec == 0:
        raise ValidationFailed(details=field_errors(**{field: "Must not be zero."}))
    return dec


def check_notional(
    quantity: Decimal,
    price: Decimal | None,
    *,
    multiplier: Decimal = Decimal(1),
    field: str = "quantity",
) -> None:
    """Quantity times price (times the contract's multiplier) must fit the amount columns too
    (each alone may be near the limit)."""
    if price is not None and quantity * price * multiplier >= AMOUNT_LIMIT:
        raise ValidationFailed(
            details=field_errors(**{field: "Quantity times price is out of range."})
        )


def decimal_str(value: Decimal | None) -> str | None:
    """The plain string of an amount: no exponent, no trailing zeros ("10", "0.5", "0")."""
    if value is None:
        return None
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
