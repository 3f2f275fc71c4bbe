import csv
import io
import json

from apps.reporting.services import report_download_open


def content(report, actor) -> bytes:
    with report_download_open(report=report, actor=actor) as handle:
        return handle.read()


def csv_rows(report, actor) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content(report, actor).decode())))


def json_body(report, actor) -> dict:
    return json.loads(content(report, actor))
