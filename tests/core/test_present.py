"""Numbers, times and evidence as people read them (the `present` template builtins)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template

from apps.core.templatetags.present import amount, evidence, humanize_key, price, qty, score, utc


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1.00000000"), "1"),
        (Decimal("1000"), "1,000"),  # never 1E+3, as Decimal.normalize() shows it
        (Decimal("1250.50"), "1,250.5"),
        (Decimal("0.01250000"), "0.0125"),
        (Decimal("-300"), "-300"),
        (Decimal("0E-8"), "0"),
        (None, ""),
        ("not a number", ""),
    ],
)
def test_quantities_without_trailing_zeros_and_with_thousands(value, shown):
    assert qty(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("189.5"), "189.50"),
        (Decimal("189.50000000"), "189.50"),
        (Decimal("0.00012300"), "0.000123"),
        (Decimal("65000"), "65,000.00"),
    ],
)
def test_prices_keep_cents_and_no_more_than_they_have(value, shown):
    assert price(value) == shown


def test_amounts_scores_and_times():
    assert amount(Decimal("1740109.23133")) == "1,740,109.23"
    assert amount(Decimal("1740109.5"), 0) == "1,740,110"
    assert score(Decimal("0.8")) == "0.80"
    when = datetime(2026, 12, 6, 17, 20, 33, 456789, tzinfo=UTC)
    assert utc(when) == "2026-12-06 17:20:33 UTC"
    assert utc(when, "ms") == "2026-12-06 17:20:33.456 UTC"
    assert utc(None) == ""


def test_evidence_is_text_not_python():
    assert evidence(["ACC-1", "ACC-2"]) == "ACC-1, ACC-2"
    assert evidence(False) == "no" and evidence(True) == "yes"
    assert evidence("1.00000000") == "1"
    assert evidence("0012") == "0012"  # an id stays as it is
    assert evidence({"seconds_apart": 2.8, "matched": False}) == "seconds apart: 2.8; matched: no"
    assert evidence([]) == "none" and evidence(None) == "—"
    assert humanize_key("seconds_apart") == "Seconds apart"


def test_the_filters_are_on_every_template_without_a_load():
    rendered = Template("{{ q|qty }} @ {{ p|price }}").render(
        Context({"q": Decimal("1000.0"), "p": Decimal("12.5")})
    )
    assert rendered == "1,000 @ 12.50"
