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
