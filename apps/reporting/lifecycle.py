"""The life of a MiFIR transaction report: what the regulator holds, what a new build sends.

Each transaction has a reference unique for the firm for good: the fill's stable key (from its
exec_id, never a primary key) and a version (`transaction_reference`). Every report records the
lines it carries (`ReportedTransaction`: New or Cxl, reference, fill, trade date, content hash).
What the regulator holds for a period (`Ledger`) is read from the lines of the filed reports
(submitted or accepted, in the order they were built) less the lines its feedback rejected. A
new build of the period then sends only the difference:

- a fill that the regulator does not hold (new, or rejected before): `New`;
- a fill whose reported content changed (a correction, or any reported field): `Cxl` of the
  reference held, then `New` under the next version;
- a reference held for a fill that is no longer reported (busted): `Cxl`;
- an unchanged fill: nothing.

Periods follow the firm's reporting calendar (`reporting_days`) and each day's report is due by
the end of the next business day of that calendar (`deadline`).
"""

import base64
import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db.models.functions import TruncDate

from apps.core.calendars import calendar_code, exchange_calendar
from apps.reporting.identifiers import Party, StaffCode
from apps.reporting.models import (
    FeedbackStatus,
    RegulatoryReport,
    ReportedTransaction,
    ReportStatus,
    ReportType,
    TransactionAction,
)

FILED = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
SENT = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED, ReportStatus.REJECTED)


def fill_key(exec_id: str) -> str:
    """A fill's stable key: 24 base32 characters of the SHA-256 of its exec_id (unique per
    fill on the platform), after an "F"; capital letters and digits, as TxId wants."""
    digest = hashlib.sha256(exec_id.encode()).digest()
    return "F" + base64.b32encode(digest).decode()[:24]


def transaction_reference(exec_id: str, version: int) -> str:
    """The transaction reference (RTS 22 field 2, at most 52 capital letters and digits)."""
    return f"{fill_key(exec_id)}V{version}"


def content_hash(row: tuple) -> str:
    """SHA-256 of what a New reports: every column but the action and the reference, a party
    (`Party`) or a person of the firm (`StaffCode`) with every field the file writes for it
    (names, date of birth, scheme, branch country), not only the identifier its CSV cell shows."""
    from apps.reporting.builders.base import cell

    text = "\x1f".join(
        value.canonical() if isinstance(value, Party | StaffCode) else cell(value)
        for value in row[2:]
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Held:
    reference: str
    content_hash: str
    trade_date: date


@dataclass
class Ledger:
    """What the regulator holds for a period, per fill id, and the last version sent per fill."""

    held: dict[int, Held] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)

    def next_version(self, fill_id: int) -> int:
        return self.versions.get(fill_id, 0) + 1


def _entity_filter(entity) -> dict:
    return (
        {"report__regulatory_entity": entity}
        if entity
        else {"report__regulatory_entity__isnull": True}
    )


def ledger_for(*, start: date, end: date, entity=None) -> Ledger:
    """The regulator's holding for transactions traded from `start` to `end` (inclusive)."""
    ledger = Ledger()
    lines = (
        ReportedTransaction.objects.filter(
            trade_date__gte=start,
            trade_date__lte=end,
            report__report_type=ReportType.MIFIR_TRANSACTIONS,
            report__status__in=SENT,
            fill__isnull=False,
            **_entity_filter(entity),
        )
        .order_by("report_id", "id")
        .values_list(
            "fill_id",
            "reference",
            "action",
            "version",
            "content_hash",
            "trade_date",
            "feedback_status",
            "report__status",
        )
    )
    for fill_id, reference, action, version, digest, day, feedback, status in lines.iterator(
        chunk_size=5000
    ):
        ledger.versions[fill_id] = max(ledger.versions.get(fill_id, 0), version)
        if status not in FILED or feedback == FeedbackStatus.REJECTED:
            continue  # the regulator does not hold what it rejected
        if action == TransactionAction.NEW:
            ledger.held[fill_id] = Held(reference, digest, day)
        elif fill_id in ledger.held and ledger.held[fill_id].reference == reference:
            del ledger.held[fill_id]
    return ledger


# --- the reporting calendar ------------------------------------------------------------------


def _calendar_open(code: str, day: date) -> bool:
    calendar = exchange_calendar(code)
    if calendar is None:
        return False
    import pandas as pd

    try:
        return bool(calendar.is_session(pd.Timestamp(day)))
    except Exception:  # noqa: BLE001 - outside the calendar's range: not a session
        return False


def firm_business_day(day: date) -> bool:
    """A business day of the firm's home NCA (`FIRM_REPORTING_CALENDAR`)."""
    return _calendar_open(settings.FIRM_REPORTING_CALENDAR, day)


def next_firm_business_day(day: date) -> date:
    following = day + timedelta(days=1)
    for _ in range(30):
        if firm_business_day(following):
            return following
        following += timedelta(days=1)
    return following


def deadline(day: date) -> date:
    """T+1: a day's transactions are due by the end of the firm's next business day."""
    return next_firm_business_day(day)


def reporting_days(start: date, end: date) -> list[date]:
    """The days from `start` to `end` that need a MiFIR report: every business day of the firm's
    calendar, every day an active instrument's own calendar trades (every day for a 24/7 venue),
    and every day with an active fill."""
    from apps.trading.models import Fill, FillStatus, Instrument

    days = {start + timedelta(days=n) for n in range((end - start).days + 1)}
    codes = {
        calendar_code(calendar, mic)
        for calendar, mic in Instrument.objects.filter(is_active=True).values_list(
            "calendar", "mic"
        )
    }
    codes.add(settings.FIRM_REPORTING_CALENDAR)
    wanted = {day for day in days if any(_calendar_open(code, day) for code in codes)}
    traded = (
        Fill.objects.filter(
            status=FillStatus.ACTIVE,
            executed_at__gte=_start_of(start),
            executed_at__lt=_start_of(end + timedelta(days=1)),
        )
        .annotate(day=TruncDate("executed_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
    )
    wanted.update(traded)
    return sorted(wanted)


def _days_with_reportable_fills(start: date, end: date) -> set[date]:
    """The days from `start` to `end` with an active fill of an instrument in MiFIR scope."""
    from apps.trading.models import Fill, FillStatus

    return set(
        Fill.objects.filter(
            status=FillStatus.ACTIVE,
            order__instrument__mifir_reportable=True,
            executed_at__gte=_start_of(start),
            executed_at__lt=_start_of(end + timedelta(days=1)),
        )
        .annotate(day=TruncDate("executed_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
    )


def _start_of(day: date):
    from datetime import datetime, time

    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass
class DayStatus:
    day: date
    deadline: date
    report: RegulatoryReport | None  # the latest filed one, else the latest built
    state: str  # "filed", "built", "missing", "nothing" (no reportable transaction that day)
    warning: str


def deadlines(*, today: date, days: int = 10, entity=None) -> list[DayStatus]:
    """The MiFIR reporting days of the last `days` days up to yesterday with their T+1
    deadline and where each stands, newest first; a warning when a day is unreported (and its
    deadline is today or past) or a late fill or correction changed a filed day."""
    start, end = today - timedelta(days=days), today - timedelta(days=1)
    reports = (
        RegulatoryReport.objects.filter(
            report_type=ReportType.MIFIR_TRANSACTIONS,
            period_start__lte=end,
            period_end__gte=start,
            regulatory_entity=entity,
        )
        .order_by("generated_at", "id")
        .only("id", "period_start", "period_end", "status", "version", "stale_since", "format")
    )
    by_day: dict[date, list[RegulatoryReport]] = {}
    for report in reports:
        day = report.period_start
        while day <= report.period_end:
            by_day.setdefault(day, []).append(report)
            day += timedelta(days=1)
    reportable = _days_with_reportable_fills(start, end)
    out = []
    for day in reversed(reporting_days(start, end)):
        due = deadline(day)
        found = by_day.get(day, [])
        filed = [r for r in found if r.status in FILED]
        report = filed[-1] if filed else (found[-1] if found else None)
        if filed:
            state = "filed"
            changed = [r for r in filed if r.stale_since is not None]
            warning = (
                "A fill booked, corrected or busted after filing changed this day: build and "
                "submit it again."
                if changed
                else ""
            )
        elif not found and day not in reportable:
            # MiFIR has no nil return: a day without a reportable transaction files nothing.
            state, warning = "nothing", ""
        else:
            state = "built" if found else "missing"
            warning = ""
            if due <= today:
                late = "overdue" if due < today else "due today"
                warning = f"Not submitted ({late}: T+1 deadline {due})."
        out.append(DayStatus(day, due, report, state, warning))
    return out


# --- the regulator's feedback file -----------------------------------------------------------

FEEDBACK_COLUMNS = ["transaction_reference", "status", "error_code", "error_message"]
FEEDBACK_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FeedbackLine:
    reference: str
    status: str
    error_code: str
    error_message: str


def feedback_parse(raw: bytes) -> list[FeedbackLine]:
    """The lines of a feedback file (docs/reporting.md: CSV, UTF-8, header
    `transaction_reference,status,error_code,error_message`, status ACPT or RJCT, a rejection
    with its error code). Raises ValueError with every problem found."""
    if len(raw) > FEEDBACK_MAX_BYTES:
        raise ValueError([f"Larger than {FEEDBACK_MAX_BYTES} bytes."])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(["Not UTF-8 text."]) from None
    if "\x00" in text:
        raise ValueError(["Not a text file (NUL characters)."])
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ValueError(["Empty: no header line."]) from None
    if [h.strip().lower() for h in header] != FEEDBACK_COLUMNS:
        raise ValueError([f"The header must be: {','.join(FEEDBACK_COLUMNS)}."])
    lines, problems, seen = [], [], set()
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(FEEDBACK_COLUMNS):
                problems.append(f"Line {number}: {len(FEEDBACK_COLUMNS)} columns expected.")
                continue
            reference, status, code, message = (cell.strip() for cell in row)
            if status not in (FeedbackStatus.ACCEPTED, FeedbackStatus.REJECTED):
                problems.append(f"Line {number}: status must be ACPT or RJCT.")
            elif status == FeedbackStatus.REJECTED and not code:
                problems.append(f"Line {number}: a rejection needs its error code.")
            if not reference or len(reference) > 52:
                problems.append(f"Line {number}: a transaction reference is required.")
            elif reference in seen:
                problems.append(f"Line {number}: {reference} appears twice.")
            seen.add(reference)
            if len(code) > 32 or len(message) > 500:
                problems.append(f"Line {number}: error code or message too long.")
            lines.append(FeedbackLine(reference, status, code, message))
    except csv.Error as exc:
        problems.append(f"Not CSV: {exc}.")
    if not problems and not lines:
        problems.append("No transaction lines.")
    if problems:
        raise ValueError(problems[:50])
    return lines
