"""PDF reports: title page, totals, page numbers, and the generation time and seal on every
page's footer."""

import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from apps.core.time import rfc3339
from apps.rbac.roles import Role
from apps.reporting.pdf import pdf_seal_verify
from apps.reporting.services import report_generate
from tests.reporting.factories import DAY
from tests.reporting.helpers import content

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def pdf(officer, report_type="daily_trading"):
    report = report_generate(
        report_type=report_type, period_start=DAY, period_end=DAY, fmt="pdf", actor=officer
    )
    data = content(report, officer)
    # one space between words: table cells come out one per line
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]
    return report, data, pages


def test_daily_trading_pdf_holds_the_totals(desk, officer):
    report, data, pages = pdf(officer)
    assert report.record_count == 5
    assert "Daily trading report" in pages[0] and "Period: 2026-11-20" in pages[0]
    text = " ".join(pages)
    assert "Traded value USD 1755" in text
    assert "Traded value EUR 2680" in text
    assert "Commission USD 1.75" in text
    assert "Fills by venue" in text  # the chart's title
    assert "AAPL USD 3 10 7 0 1755 1.75" in text  # the by-instrument table


def test_every_page_has_number_time_and_seal(desk, officer):
    report, data, pages = pdf(officer)
    assert len(pages) >= 2
    seal = re.search(r"SHA-256 seal ([0-9a-f]{64})", pages[0]).group(1)
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in text
        assert f"Generated {rfc3339(report.generated_at)}" in text
        assert f"SHA-256 seal {seal}" in text
    # the seal is the file's SHA-256 with the seal written as zeros
    assert hashlib.sha256(data.replace(seal.encode(), b"0" * 64)).hexdigest() == seal
    assert pdf_seal_verify(data)
    assert hashlib.sha256(data).hexdigest() == report.sha256  # what downloads check


def test_a_changed_pdf_breaks_the_seal(desk, officer):
    _report, data, _pages = pdf(officer)
    assert not pdf_seal_verify(data.replace(b"1755", b"1756", 1))


def test_positions_and_mifir_pdfs(desk, officer):
    _r, _d, pages = pdf(officer, "positions")
    text = " ".join(pages)
    assert "Net market value USD 530" in text and "Net market value EUR -615" in text
    _r, _d, pages = pdf(officer, "mifir_transactions")
    text = " ".join(pages)
    assert "Transactions (New) 5" in text and "Short sales 1" in text


# --- what a PDF holds: every record, or a summary that says so ---------------------------


def many_fills(desk, n: int) -> list:
    """n more fills on DAY over 30 instruments (so that the by-instrument table is long)."""
    from tests.reporting.factories import at, book_fill
    from tests.trading.factories import InstrumentFactory

    instruments = [InstrumentFactory(symbol=f"LST{k:02d}") for k in range(30)]
    return [
        book_fill(
            account=desk["t1"],
            instrument=instruments[k % 30],
            side="buy",
            quantity="1",
            price=str(50 + k % 7),
            executed_at=at(DAY, "17:00"),
            exec_id=f"LISTED-{k:04d}",
            trader=desk["tina"],
        )
        for k in range(n)
    ]


LISTING_HEADER = "Time (UTC) Account Symbol ISIN Side Quantity Price"


def test_daily_trading_pdf_lists_every_fill_with_headings_kept(desk, officer):
    fills = many_fills(desk, 140)
    report, _data, pages = pdf(officer)
    assert report.record_count == 145
    assert "Complete: every one of the 145 fills is listed" in pages[0]
    text = " ".join(pages)
    for fill in [*desk["fills"][1:], *fills]:
        assert fill.exec_id in text
    assert desk["fills"][0].exec_id not in text  # the day before
    # the listing starts on a page of its own and repeats its headings on every page
    first = next(n for n, page in enumerate(pages) if "All 145 fills" in page)
    assert len(pages) - first >= 3
    for page in pages[first:]:
        assert LISTING_HEADER in page
    # each summary table's heading is on the page where its column headings are
    for heading, columns in (
        ("By currency", "Currency Fills Value Commission"),
        ("By instrument", "Instrument Currency Fills Bought Sold Sold short"),
        ("By venue", "Venue Fills Value"),
    ):
        (page,) = [p for p in pages if f"{heading} " in p and columns in p]
        assert page.index(heading) < page.index(columns)


def test_a_daily_trading_pdf_over_the_limit_says_it_is_a_summary(desk, officer, settings):
    settings.REPORTING_PDF_MAX_LISTED_ROWS = 4
    report, _data, pages = pdf(officer)
    text = " ".join(pages)
    assert report.record_count == 5
    assert "Summary only: the 5 fills are more than a PDF lists (4)" in pages[0]
    assert LISTING_HEADER not in text
    assert desk["fills"][1].exec_id not in text


def test_summary_pdfs_say_so(desk, officer):
    _r, _d, pages = pdf(officer, "mifir_transactions")
    assert "Summary only: totals and tables, not the 5 records one by one" in pages[0]
    assert "XML, CSV, JSON files list every one" in pages[0]
    _r, _d, pages = pdf(officer, "positions")
    assert "Complete: every one of the 2 positions is listed" in pages[0]
    _r, _d, pages = pdf(officer, "best_execution")
    assert "Complete: every one of the 3 ranked venues is in the tables" in pages[0]


def test_a_listing_fits_its_lines_to_the_page():
    from apps.reporting.pdf import LISTING_MIN_SIZE, UNIT, Listing, _listing_lines

    narrow = Listing(["Id", "Amount"], [UNIT.join(["a", "5"]), UNIT.join(["bb", "12.5"])], 2)
    heading, lines, size = _listing_lines(narrow, 700)
    assert size == 6.5
    assert heading == "Id  Amount"
    assert lines == ["a        5", "bb    12.5"]  # numbers right-aligned
    # a record wider than the page at the smallest size goes on over indented lines
    wide = Listing(["Id", "Note"], [UNIT.join(["x", "n" * 400])], 1)
    _heading, lines, size = _listing_lines(wide, 300)
    assert size == LISTING_MIN_SIZE
    assert len(lines) > 1 and all(line.startswith("    ") for line in lines[1:])
    assert "".join(lines).replace(" ", "") == "x" + "n" * 400  # nothing lost
