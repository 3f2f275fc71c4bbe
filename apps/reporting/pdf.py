"""PDF rendering (reportlab): a title page, the summary tables, the charts, a report's every row
where it lists them (`pdf_contents`), and on every page a footer with the page number, the
generation time and the file's SHA-256 seal.

The title page says what the PDF holds: every record (listed, or in the summary tables) or a
summary whose records are in the report's other formats. A heading stays on the page of its
table: a short table moves to the next page whole, a long one starts only where there is room
for its heading and first rows, and repeats its column headings on every page.

A file cannot contain its own SHA-256, so the footer carries a seal: the SHA-256 of the file as
written with the seal's 64 characters set to zeros. `pdf_seal_verify` checks it; the stored
SHA-256 of the file as it is (which every download re-checks) is on the reports page and in the
API. Page streams are left uncompressed so that the seal is written once, in place, and can be
found again.
"""

import hashlib
import io
import re
from dataclasses import dataclass

from django.conf import settings
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from apps.core.time import rfc3339
from apps.reporting.builders.base import (
    PDF_LISTING,
    PDF_TABLES,
    Chart,
    ReportBuilder,
    cell,
)

PLACEHOLDER = "0" * 64
SEAL_LABEL = "SHA-256 seal "
_SEAL = re.compile(rb"SHA-256 seal ([0-9a-f]{64})")
PAGE = landscape(A4)
MAX_CHART_BARS = 15
MAX_TABLE_ROWS = 200  # a summary table longer than this is cut, saying so
KEEP_WHOLE_ROWS = 25  # a table up to this long is kept on one page with its heading
ROOM_FOR_START = 45 * mm  # a longer one starts only where its heading and first rows fit
# The listing: one line of fixed-width text per record, so that a page's share of the records
# is known before it is drawn.
LISTING_FONT, LISTING_SIZE, LISTING_MIN_SIZE = "Courier", 6.5, 4.5
CHAR_WIDTH = 0.6  # of a Courier character, in font sizes
LISTING_GAP = "  "  # between columns


def pdf_seal_verify(data: bytes) -> bool:
    """True when the seal in the footers is the SHA-256 of the file with the seal zeroed."""
    found = _SEAL.search(data)
    if not found:
        return False
    seal = found.group(1)
    return hashlib.sha256(data.replace(seal, PLACEHOLDER.encode())).hexdigest() == seal.decode()


def _footer_canvas(generated_at: str):
    class FooterCanvas(pdf_canvas.Canvas):
        """Holds the pages back until the end, so that each footer can say 'page n of m'."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self.setFont("Helvetica", 7)
                self.setFillColor(colors.grey)
                self.drawString(
                    15 * mm, 8 * mm, f"Generated {generated_at} · {SEAL_LABEL}{PLACEHOLDER}"
                )
                self.drawRightString(PAGE[0] - 15 * mm, 8 * mm, f"Page {number} of {total}")
                super().showPage()
            super().save()

    return FooterCanvas


HEADER_BACKGROUND = colors.HexColor("#e8edf3")
HEADER_RULE = colors.HexColor("#8a99ad")
STRIPES = [colors.white, colors.HexColor("#f7f9fb")]


def _table(title: str, columns: list[str], rows: list[list], styles) -> list:
    shown = rows[:MAX_TABLE_ROWS]
    data = [columns, *[[cell(v) for v in row] for row in shown]]
    table = Table(data, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, HEADER_RULE),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), STRIPES),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    heading = Paragraph(title, styles["Heading3"])
    if len(shown) <= KEEP_WHOLE_ROWS:
        flow = [KeepTogether([heading, table])]
    else:
        flow = [CondPageBreak(ROOM_FOR_START), heading, table]
    if len(rows) > len(shown):
        flow.append(
            Paragraph(
                f"… and {len(rows) - len(shown)} more rows (this table is cut; the report's "
                f"CSV and JSON files hold every row).",
                styles["Normal"],
            )
        )
    return [*flow, Spacer(1, 6 * mm)]


UNIT = "\x1f"  # between the cells of a kept row (one string a row holds memory down)


@dataclass
class Listing:
    """The rows a PDF lists (each its cells' text joined by UNIT), or None with the count when
    there were too many."""

    columns: list[str]
    rows: list[str] | None
    total: int


def listing_collect(builder: ReportBuilder, *, limit: int | None = None) -> Listing | None:
    """Stream the builder's rows (as `consume` does), keeping them as the PDF's listing shows
    them when the report lists its rows, up to `limit` (REPORTING_PDF_MAX_LISTED_ROWS)."""
    if builder.pdf_contents != PDF_LISTING:
        builder.consume()
        return None
    limit = settings.REPORTING_PDF_MAX_LISTED_ROWS if limit is None else limit
    kept: list[str] | None = []
    for row in builder.rows():
        if kept is not None:
            kept.append(UNIT.join(" ".join(cell(v).split()) for v in builder.listing_row(row)))
            if len(kept) > limit:
                kept = None  # too many to list: the PDF becomes a summary, and says so
    return Listing(builder.listing_columns(), kept, builder.record_count)


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _listing_lines(listing: Listing, available: float) -> tuple[str, list[str], float]:
    """The listing as lines of fixed-width text: the heading line, one line per record (more
    when a record is wider than the page), and the font size that fits them to the page.

    Columns are as wide as their widest cell, numbers right-aligned. A fixed-width font drawn
    one line at a time is what makes tens of thousands of rows render in seconds."""
    widths = [len(c) for c in listing.columns]
    numeric = [True] * len(widths)
    for row in listing.rows:  # split twice rather than hold every cell at once
        for n, value in enumerate(row.split(UNIT)):
            if len(value) > widths[n]:
                widths[n] = len(value)
            if numeric[n] and value and not _NUMBER.fullmatch(value):
                numeric[n] = False

    def line(cells) -> str:
        return LISTING_GAP.join(
            c.rjust(w) if numeric[n] else c.ljust(w)
            for n, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    chars = sum(widths) + len(LISTING_GAP) * (len(widths) - 1)
    size = min(LISTING_SIZE, max(LISTING_MIN_SIZE, available / (chars * CHAR_WIDTH)))
    room = int(available // (size * CHAR_WIDTH))  # characters a line holds
    lines = []
    for row in listing.rows:
        text = line(row.split(UNIT))
        lines.append(text[:room])
        # a record wider than the page goes on over the next lines, indented
        for more in range(room, len(text), room - 4):
            lines.append("    " + text[more : more + room - 4])
    return line(listing.columns), lines, size


class _ListingLines(Flowable):
    """The listing, a page's share at a time, with the column headings on top of each page.
    Every share reads the one list of lines (from `start` to `end`): a split copies nothing."""

    def __init__(self, heading: str, lines: list[str], size: float, start=0, end=None) -> None:
        super().__init__()
        self.heading, self.lines, self.size = heading, lines, size
        self.start, self.end = start, len(lines) if end is None else end
        self.leading = size * 1.3

    def wrap(self, avail_width, avail_height):
        self.width = avail_width
        self.height = self.leading * (self.end - self.start + 1) + 2
        return self.width, self.height

    def split(self, avail_width, avail_height):
        fit = int((avail_height - 2) // self.leading) - 1
        if fit < 1:
            return []  # not even the headings and one line: the next page
        if fit >= self.end - self.start:
            return [self]
        cut = self.start + fit
        return [
            _ListingLines(self.heading, self.lines, self.size, self.start, cut),
            _ListingLines(self.heading, self.lines, self.size, cut, self.end),
        ]

    def draw(self):
        canvas, leading = self.canv, self.leading
        top = self.height
        canvas.setFillColor(HEADER_BACKGROUND)
        canvas.rect(0, top - leading - 1, self.width, leading + 1, stroke=0, fill=1)
        canvas.setFillColor(STRIPES[1])
        for n in range(1, self.end - self.start, 2):  # every other line shaded
            canvas.rect(0, top - leading * (n + 2) - 2, self.width, leading, stroke=0, fill=1)
        canvas.setStrokeColor(HEADER_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(0, top - leading - 1, self.width, top - leading - 1)
        canvas.setFillColor(colors.black)
        text = canvas.beginText(1, top - self.size)
        text.setFont(f"{LISTING_FONT}-Bold", self.size, leading)
        text.textLine(self.heading)
        text.setFont(LISTING_FONT, self.size, leading)
        text.moveCursor(0, 2)
        for n in range(self.start, self.end):
            text.textLine(self.lines[n])
        canvas.drawText(text)


def _listing(builder: ReportBuilder, listing: Listing, styles, width: float) -> list:
    heading = Paragraph(f"All {listing.total} {builder.record_name}", styles["Heading2"])
    if not listing.rows:
        return [heading, Paragraph(f"No {builder.record_name} in the period.", styles["Normal"])]
    columns, lines, size = _listing_lines(listing, width)
    listing.rows.clear()  # the lines hold them now
    return [PageBreak(), heading, _ListingLines(columns, lines, size)]


def _complete(builder: ReportBuilder, listing: Listing | None, summary) -> bool:
    """Whether the PDF holds every record of the report."""
    if builder.pdf_contents == PDF_TABLES:
        return all(len(t.rows) <= MAX_TABLE_ROWS for t in summary.tables)
    return listing is not None and listing.rows is not None


def _contents(builder: ReportBuilder, listing: Listing | None, complete: bool) -> str:
    """What the PDF holds, for its title page."""
    name = builder.record_name
    others = ", ".join(f.upper() for f in builder.formats if f != "pdf")
    if builder.pdf_contents == PDF_TABLES and complete:
        return f"Complete: every one of the {builder.record_count} {name} is in the tables."
    if complete:
        return f"Complete: every one of the {listing.total} {name} is listed, after the summary."
    if listing is not None:
        return (
            f"Summary only: the {listing.total} {name} are more than a PDF lists "
            f"({settings.REPORTING_PDF_MAX_LISTED_ROWS}); the report's {others} files list "
            f"every one."
        )
    return (
        f"Summary only: totals and tables, not the {builder.record_count} {name} one by one; "
        f"the report's {others} files list every one."
    )


def _chart(chart: Chart, styles) -> list:
    labels = chart.labels[:MAX_CHART_BARS]
    values = [float(v) for v in chart.values[:MAX_CHART_BARS]]  # drawing coordinates only
    height = 30 * mm + 7 * mm * max(len(labels), 1)
    drawing = Drawing(220 * mm, height)
    if not labels:
        drawing.add(String(0, height / 2, "Nothing to chart for this period.", fontSize=9))
    else:
        bars = HorizontalBarChart()
        bars.x, bars.y = 45 * mm, 10 * mm
        bars.width, bars.height = 160 * mm, height - 20 * mm
        bars.data = [list(reversed(values))]
        bars.categoryAxis.categoryNames = list(reversed(labels))
        bars.categoryAxis.labels.fontSize = 7
        bars.valueAxis.labels.fontSize = 7
        bars.valueAxis.valueMin = min(0, *values)
        bars.bars[0].fillColor = colors.HexColor("#2f6fad")
        bars.barLabelFormat = "%.6g"
        bars.barLabels.fontSize = 6
        bars.barLabels.nudge = 8
        drawing.add(bars)
    return [KeepTogether([Paragraph(chart.title, styles["Heading3"]), drawing])]


def render_pdf(builder: ReportBuilder, listing: Listing | None = None) -> bytes:
    """The report as a sealed PDF (call after the builder's rows have been consumed, by
    `listing_collect` when the report lists its rows)."""
    summary = builder.summary()
    complete = _complete(builder, listing, summary)
    styles = getSampleStyleSheet()
    generated = rfc3339(builder.generated_at)
    entity = builder.entity
    story = [
        Spacer(1, 35 * mm),
        Paragraph(builder.title, styles["Title"]),
        Paragraph(f"Period: {builder.period.label}", styles["Heading2"]),
        Spacer(1, 8 * mm),
        Paragraph(builder.description, styles["Normal"]),
        Spacer(1, 4 * mm),
        Paragraph(f"<b>{_contents(builder, listing, complete)}</b>", styles["Normal"]),
        Spacer(1, 8 * mm),
        *_table(
            "Report",
            ["", ""],
            [
                ["Report type", builder.report_type],
                ["Regulatory entity", f"{entity.code} ({entity.name})" if entity else "—"],
                ["Period", builder.period.label],
                ["Generated at (UTC)", generated],
                ["Records", builder.record_count],
                [
                    "This PDF holds",
                    f"every one of the {builder.record_name}" if complete else "a summary",
                ],
            ],
            styles,
        ),
        PageBreak(),
        *_table("Totals", ["Measure", "Value"], [list(t) for t in summary.totals], styles),
    ]
    for chart in summary.charts:
        story += _chart(chart, styles)
    for table in summary.tables:
        story += _table(table.title, table.columns, table.rows, styles)
    if listing is not None and listing.rows is not None:
        story += _listing(builder, listing, styles, PAGE[0] - 30 * mm - 12)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        title=builder.title,
        author="Trade Compliance",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        pageCompression=0,
    )
    doc.build(story, canvasmaker=_footer_canvas(generated))
    data = buffer.getvalue()
    seal = hashlib.sha256(data).hexdigest()
    return data.replace(PLACEHOLDER.encode(), seal.encode())
