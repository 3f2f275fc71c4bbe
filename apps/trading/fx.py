"""Converting an amount from one currency into another at the latest FX rate, defined once.

A rate (`FxRate`: base, quote, rate, as of) says that one `base` buys `rate` of `quote`. An
amount in currency A becomes currency B, from the rates at hand, by:

1. the pair itself: A/B (multiply by its rate) or B/A (divide), whichever was recorded last;
2. else a cross through the firm's currency F (settings.FIRM_CURRENCY): A -> F, then F -> B,
   each leg as in 1.

A rate older than `max_age_seconds` at `now` is stale and is not used (None: any age will do, as
in a report of a past day); nor is a rate timed after `now`. When no route is left the
conversion is unavailable: the gate's limits then fail closed (`fx_rate_unavailable`), the
reports show the amount unconverted.

Pure: the rates come from the caller (the gate's batched read, `selectors.fx_rates_latest`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class Conversion:
    factor: Decimal  # amount in the source currency x factor = amount in the target currency
    as_of: datetime | None  # the oldest rate used (None: no rate, the same currency)
    route: str  # "EUR/USD 1.085", "USD/EUR 0.92 inverted", "... via USD": what was used


class FxTable:
    """The latest rate of each pair among `rates` ((base, quote, rate, as of) rows, any order),
    and the conversions they allow at `now`."""

    def __init__(
        self,
        rates: Iterable[tuple[str, str, Decimal, datetime]],
        *,
        now: datetime,
        max_age_seconds: int | None,
        via: str,
    ) -> None:
        self.now, self.max_age, self.via = now, max_age_seconds, via
        self._latest: dict[tuple[str, str], tuple[Decimal, datetime]] = {}
        for base, quote, rate, as_of in rates:
            if as_of > now or rate is None or rate <= 0:
                continue
            known = self._latest.get((base, quote))
            if known is None or as_of > known[1]:
                self._latest[(base, quote)] = (rate, as_of)
        self._memo: dict[tuple[str, str], Conversion | None] = {}

    def _fresh(self, as_of: datetime) -> bool:
        return self.max_age is None or (self.now - as_of).total_seconds() <= self.max_age

    def _leg(self, source: str, target: str) -> Conversion | None:
        """The pair itself or its inverse, whichever is the later fresh rate."""
        found = []
        direct = self._latest.get((source, target))
        if direct is not None and self._fresh(direct[1]):
            rate, as_of = direct
            found.append(Conversion(rate, as_of, f"{source}/{target} {_text(rate)}"))
        inverse = self._latest.get((target, source))
        if inverse is not None and self._fresh(inverse[1]):
            rate, as_of = inverse
            found.append(Conversion(ONE / rate, as_of, f"{target}/{source} {_text(rate)} inverted"))
        return max(found, key=lambda c: c.as_of, default=None)

    def conversion(self, source: str, target: str) -> Conversion | None:
        """How an amount in `source` becomes `target`; None when no fresh rate allows it."""
        key = (source, target)
        if key not in self._memo:
            self._memo[key] = self._convert(source, target)
        return self._memo[key]

    def _convert(self, source: str, target: str) -> Conversion | None:
        if source == target:
            return Conversion(ONE, None, "same currency")
        leg = self._leg(source, target)
        if leg is not None or self.via in (source, target):
            return leg
        first, second = self._leg(source, self.via), self._leg(self.via, target)
        if first is None or second is None:
            return None
        return Conversion(
            first.factor * second.factor,
            min(first.as_of, second.as_of),
            f"{first.route}, {second.route} (via {self.via})",
        )

    def factor(self, source: str, target: str) -> Decimal | None:
        found = self.conversion(source, target)
        return None if found is None else found.factor


def _text(rate: Decimal) -> str:
    text = f"{rate:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
