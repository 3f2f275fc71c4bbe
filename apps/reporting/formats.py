"""Writing a builder's rows in each format, to a binary file, while hashing what is written."""

import csv
import hashlib
import io
import json

import orjson

from apps.core.time import rfc3339
from apps.reporting.builders.base import ReportBuilder, cell, json_cell

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xml": "application/xml",
    "pdf": "application/pdf",
}


class HashingWriter(io.RawIOBase):
    """A binary file wrapper that keeps the SHA-256 and size of everything written through it."""

    def __init__(self, target) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def write_csv(builder: ReportBuilder, out) -> None:
    text = io.TextIOWrapper(
        io.BufferedWriter(out, buffer_size=1 << 16), encoding="utf-8", newline=""
    )
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(builder.columns)
    for row in builder.rows():
        writer.writerow([cell(v) for v in row])
    text.flush()
    text.detach().flush()


def write_json(builder: ReportBuilder, out) -> None:
    """{"report": {...}, "columns": [...], "rows": [{...}, ...], "summary": {...}}: the rows are
    written one at a time, the summary (known only once they have passed) after them. A builder
    with a layout of its own (a CAT file) writes itself."""
    if hasattr(builder, "write_json"):
        builder.write_json(out)
        return
    buffer = io.BufferedWriter(out, buffer_size=1 << 16)
    head = {
        "report_type": builder.report_type,
        "title": builder.title,
        "period_start": str(builder.period.start),
        "period_end": str(builder.period.end),
        "regulatory_entity": builder.entity.code if builder.entity else None,
        "generated_at": rfc3339(builder.generated_at),
    }
    buffer.write(b'{"report": ' + json.dumps(head).encode())
    buffer.write(b', "columns": ' + json.dumps(builder.columns).encode() + b', "rows": [')
    columns = builder.columns
    for n, row in enumerate(builder.rows()):
        item = dict(zip(columns, [json_cell(v) for v in row], strict=True))
        buffer.write((b",\n" if n else b"\n") + orjson.dumps(item))
    summary = builder.summary().as_dict()
    buffer.write(b'\n], "summary": ' + json.dumps(summary).encode() + b"}\n")
    buffer.flush()


def write_xml(builder: ReportBuilder, out) -> None:
    builder.write_xml(out)


def write_pdf(builder: ReportBuilder, out) -> None:
    from apps.reporting.pdf import listing_collect, render_pdf

    listing = listing_collect(builder)
    out.write(render_pdf(builder, listing))


WRITERS = {"csv": write_csv, "json": write_json, "xml": write_xml, "pdf": write_pdf}
