"""The files of an approved STOR: a sealed PDF to read and an XML file valid against the
platform's schema (apps/reporting/data/stor.xsd), both laid out in the five sections of the
template in Commission Delegated Regulation (EU) 2016/957, Annex."""

import hashlib
import io
from functools import lru_cache
from pathlib import Path

from lxml import etree
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from apps.core.errors import ValidationFailed
from apps.core.time import rfc3339
from apps.reporting.pdf import (
    HEADER_BACKGROUND,
    HEADER_RULE,
    PAGE,
    PLACEHOLDER,
    STRIPES,
    _footer_canvas,
)

NS = "urn:tradecompliance:stor:1"
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "stor.xsd"
TRANSACTION_COLUMNS = [
    ("kind", "Kind"),
    ("reference", "Reference"),
    ("time", "Date and time (UTC)"),
    ("account", "Account"),
    ("instrument", "Instrument"),
    ("isin", "ISIN"),
    ("venue", "Venue"),
    ("side", "Buy/sell"),
    ("order_type", "Order type"),
    ("quantity", "Quantity"),
    ("price", "Price"),
    ("currency", "Currency"),
    ("status", "Status"),
    ("trader", "Trader"),
]
XML_TRANSACTION = {
    "kind": "Kind",
    "reference": "Reference",
    "time": "DateTime",
    "account": "Account",
    "instrument": "Instrument",
    "isin": "ISIN",
    "venue": "Venue",
    "side": "Side",
    "order_type": "OrderType",
    "quantity": "Quantity",
    "price": "Price",
    "currency": "Currency",
    "status": "Status",
    "trader": "Trader",
}
REQUIRED_IN_XML = {"kind", "reference", "time", "account", "instrument", "side", "quantity"}


# --- XML ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def stor_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def _add(parent, name: str, value) -> None:
    """A child element, left out when the value is empty (every optional field)."""
    if value in (None, ""):
        return
    etree.SubElement(parent, f"{{{NS}}}{name}").text = str(value)


def _always(parent, name: str, value) -> None:
    etree.SubElement(parent, f"{{{NS}}}{name}").text = str(value or "")


def stor_xml(stor) -> bytes:
    """The STOR as XML, checked against the schema: an invalid file is a 400, never stored."""
    root = etree.Element(f"{{{NS}}}STOR", nsmap={None: NS})
    _always(root, "Reference", stor.reference)
    entity = stor.regulatory_entity
    _add(root, "CompetentAuthority", f"{entity.code} ({entity.name})" if entity else "")
    _always(root, "DraftedBy", _person(stor.drafted_by))
    _always(root, "ApprovedBy", _person(stor.reviewed_by))
    _always(root, "ApprovedAt", rfc3339(stor.reviewed_at))

    section = etree.SubElement(root, f"{{{NS}}}ReportingEntity")
    _always(section, "Name", stor.entity_name)
    _add(section, "LEI", stor.entity_lei)
    _add(section, "Country", stor.entity_country)
    _always(section, "PersonSubmitting", stor.person_name)
    _add(section, "Position", stor.person_position)
    _add(section, "Contact", stor.person_contact)

    section = etree.SubElement(root, f"{{{NS}}}Transactions")
    _add(section, "InstrumentDescription", stor.instrument_description)
    for row in stor.transactions:
        item = etree.SubElement(section, f"{{{NS}}}Transaction")
        for key, name in XML_TRANSACTION.items():
            (_always if key in REQUIRED_IN_XML else _add)(item, name, row.get(key))

    section = etree.SubElement(root, f"{{{NS}}}Suspicion")
    _always(section, "BreachType", stor.breach_type)
    _always(section, "Description", stor.suspicion_description)
    for indicator in stor.indicators:
        _always(section, "Indicator", indicator)
    _always(section, "Detector", stor.alert.detector)
    _always(section, "AlertReference", f"alert #{stor.alert_id}")

    section = etree.SubElement(root, f"{{{NS}}}Persons")
    for person in stor.persons:
        item = etree.SubElement(section, f"{{{NS}}}Person")
        _always(item, "Role", person.get("role"))
        _always(item, "Name", person.get("name"))
        _add(item, "Identifier", person.get("identifier"))
    _add(section, "Notes", stor.persons_notes)

    section = etree.SubElement(root, f"{{{NS}}}AdditionalInformation")
    _add(section, "Information", stor.additional_information)
    for attachment in stor.attachments:
        _always(section, "Attachment", attachment)

    schema = stor_schema()
    if not schema.validate(root):
        raise ValidationFailed(
            "The STOR file is not valid against its schema: nothing was stored.",
            code="stor_schema_invalid",
            details={"schema_errors": [e.message for e in list(schema.error_log)[:50]]},
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _person(user) -> str:
    if user is None:
        return ""
    full = user.get_full_name().strip()
    return f"{full} ({user.get_username()})" if full else user.get_username()


# --- PDF ---------------------------------------------------------------------------------------


def _escaped(text: str) -> str:
    """Text for a reportlab Paragraph (a small markup language): escaped, line breaks kept."""
    from xml.sax.saxutils import escape

    return escape(text or "—").replace("\n", "<br/>")


def _fields_table(rows: list[tuple[str, str]], styles, widths) -> Table:
    body = styles["BodyText"]
    data = [
        [Paragraph(f"<b>{_escaped(label)}</b>", body), Paragraph(_escaped(value), body)]
        for label, value in rows
    ]
    table = Table(data, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 0), (-1, -1), STRIPES),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, HEADER_RULE),
            ]
        )
    )
    return table


def _long_fields(rows: list[tuple[str, str]], styles) -> list:
    """Narrative fields as paragraphs under their labels: a long text runs on over pages (a
    table cell cannot)."""
    flow = []
    for label, value in rows:
        flow += [
            Paragraph(f"<b>{_escaped(label)}</b>", styles["BodyText"]),
            Paragraph(_escaped(value), styles["BodyText"]),
            Spacer(1, 2 * mm),
        ]
    return flow


def _rows_table(columns: list[str], rows: list[list[str]], styles, width: float) -> Table:
    small = styles["BodyText"].clone("small", fontSize=6.5, leading=8)
    data = [
        [Paragraph(f"<b>{_escaped(c)}</b>", small) for c in columns],
        *[[Paragraph(_escaped(v or ""), small) for v in row] for row in rows],
    ]
    table = Table(data, colWidths=[width / len(columns)] * len(columns), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, HEADER_RULE),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), STRIPES),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def stor_pdf(stor) -> bytes:
    """The STOR as a sealed PDF (the footer's seal as in `apps.reporting.pdf`)."""
    styles = getSampleStyleSheet()
    page = PAGE  # landscape: the transactions table has fourteen columns
    width = page[0] - 30 * mm
    label_widths = [55 * mm, width - 55 * mm]
    entity = stor.regulatory_entity
    story = [
        Paragraph("Suspicious transaction and order report (STOR)", styles["Title"]),
        Paragraph(
            "Regulation (EU) No 596/2014 (MAR), article 16; template of Commission Delegated "
            "Regulation (EU) 2016/957, Annex. Confidential: the persons concerned must not be "
            "informed of this report.",
            styles["Italic"],
        ),
        Spacer(1, 4 * mm),
        _fields_table(
            [
                ("Reference", stor.reference),
                ("Competent authority", f"{entity.code} ({entity.name})" if entity else ""),
                ("Drafted by", _person(stor.drafted_by)),
                ("Approved by", _person(stor.reviewed_by)),
                ("Approved at (UTC)", rfc3339(stor.reviewed_at)),
                ("Alert", f"#{stor.alert_id} ({stor.alert.detector}): {stor.alert.title}"),
            ],
            styles,
            label_widths,
        ),
        Paragraph("Section 1 — Identity of the entity or person submitting", styles["Heading2"]),
        _fields_table(
            [
                ("Name of the entity", stor.entity_name),
                ("LEI", stor.entity_lei),
                ("Country", stor.entity_country),
                ("Person submitting", stor.person_name),
                ("Position", stor.person_position),
                ("Contact", stor.person_contact),
            ],
            styles,
            label_widths,
        ),
        Paragraph("Section 2 — Transactions and orders", styles["Heading2"]),
        _fields_table(
            [("Financial instrument", stor.instrument_description)], styles, label_widths
        ),
        Spacer(1, 2 * mm),
    ]
    if stor.transactions:
        story.append(
            _rows_table(
                [label for _key, label in TRANSACTION_COLUMNS],
                [
                    [row.get(key, "") for key, _label in TRANSACTION_COLUMNS]
                    for row in stor.transactions
                ],
                styles,
                width,
            )
        )
    else:
        story.append(Paragraph("No order or transaction attached.", styles["BodyText"]))
    story += [
        Paragraph("Section 3 — Description of the nature of the suspicion", styles["Heading2"]),
        _fields_table([("Type of breach", stor.get_breach_type_display())], styles, label_widths),
        Spacer(1, 2 * mm),
        *_long_fields(
            [
                ("Reasons for suspicion", stor.suspicion_description),
                ("Indicators", "\n".join(f"• {i}" for i in stor.indicators)),
            ],
            styles,
        ),
        Paragraph("Section 4 — Identity of the persons concerned", styles["Heading2"]),
    ]
    if stor.persons:
        story.append(
            _rows_table(
                ["Role", "Name", "Identifier"],
                [
                    [p.get("role", ""), p.get("name", ""), p.get("identifier", "")]
                    for p in stor.persons
                ],
                styles,
                width,
            )
        )
    story += [
        Spacer(1, 2 * mm),
        *_long_fields([("Further information", stor.persons_notes)], styles),
        Paragraph("Section 5 — Additional information", styles["Heading2"]),
        *_long_fields(
            [
                ("Additional information", stor.additional_information),
                ("Documents attached", "\n".join(f"• {a}" for a in stor.attachments)),
            ],
            styles,
        ),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page,
        title=f"STOR {stor.reference}",
        author="Trade Compliance",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        pageCompression=0,
    )
    try:
        doc.build(story, canvasmaker=_footer_canvas(rfc3339(stor.reviewed_at)))
    except LayoutError:
        raise ValidationFailed(
            "A field of the STOR is too long to lay out on a page: shorten it.",
            code="stor_layout_failed",
        ) from None
    data = buffer.getvalue()
    seal = hashlib.sha256(data).hexdigest()
    return data.replace(PLACEHOLDER.encode(), seal.encode())
