"""PDF rendering (reportlab): a title page, the summary tables, the charts, and on every page a
footer with the page number, the generation time and the file's SHA-256 seal.

A file cannot contain its own SHA-256, so the footer carries a seal: the SHA-256 of the file as
written with the seal's 64 characters set to zeros. `pdf_seal_verify` checks it; the stored
SHA-256 of the file as it is (which every download re-checks) is on the reports page and in the
API. Page streams are left uncompressed so that the seal is written once, in place, and can be
found again.
"""

import hashlib
import io
import re

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from apps.core.time import rfc3339
from apps.reporting.builders.base import Chart, ReportBuilder, cell

PLACEHOLDER = "0" * 64
SEAL_LABEL = "SHA-256 seal "
_SEAL = re.compile(rb"SHA-256 seal ([0-9a-f]{64})")
PAGE = landscape(A4)
MAX_CHART_BARS = 15
MAX_TABLE_ROWS = 200  # a summary table longer than this is cut, saying so


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


def _table(title: str, columns: list[str], rows: list[list], styles) -> list:
    shown = rows[:MAX_TABLE_ROWS]
    data = [columns, *[[cell(v) for v in row] for row in shown]]
    table = Table(data, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#8a99ad")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f9fb")]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    flow = [Paragraph(title, styles["Heading3"]), table]
    if len(rows) > len(shown):
        flow.append(Paragraph(f"… and {len(rows) - len(shown)} more rows.", styles["Normal"]))
    return [*flow, Spacer(1, 6 * mm)]


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


def render_pdf(builder: ReportBuilder) -> bytes:
    """The report as a sealed PDF (call after the builder's rows have been consumed)."""
    summary = builder.summary()
    styles = getSampleStyleSheet()
    generated = rfc3339(builder.generated_at)
    entity = builder.entity
    story = [
        Spacer(1, 35 * mm),
        Paragraph(builder.title, styles["Title"]),
        Paragraph(f"Period: {builder.period.label}", styles["Heading2"]),
        Spacer(1, 8 * mm),
        Paragraph(builder.description, styles["Normal"]),
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
