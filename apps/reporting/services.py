"""Generating, downloading and filing regulatory reports.

A report is built outside any transaction (it streams the period's rows into a temporary file
while hashing them), then stored and recorded in one: the file in Django's default storage, the
row with its SHA-256, size and record count, and the REPORT_GENERATED event. A download copies
the stored file while hashing it and hands out the copy only when the hash still matches; a
mismatch is refused and raises a critical alert.
"""

import hashlib
import logging
import tempfile
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.calendars import is_business_day, previous_business_day
from apps.core.errors import Conflict, PlatformError, ValidationFailed, field_errors
from apps.core.time import rfc3339, utcnow
from apps.core.validation import clean_or_raise
from apps.notifications.services import alert_notify
from apps.rbac.access import require_role
from apps.rbac.roles import Role
from apps.reporting.builders import BUILDERS, Period
from apps.reporting.builders.base import FILLS_IN_PERIOD, FILLS_TO_PERIOD_END
from apps.reporting.builders.cat_events import NOTHING_TO_REPORT as CAT_NOTHING_TO_REPORT
from apps.reporting.formats import WRITERS, HashingWriter
from apps.reporting.jurisdictions import check_entity_receives
from apps.reporting.lifecycle import FILED, SENT, feedback_parse, ledger_for, reporting_days
from apps.reporting.models import (
    FeedbackStatus,
    RegulatoryReport,
    ReportedTransaction,
    ReportFeedback,
    ReportFormat,
    ReportStatus,
    ReportType,
)
from apps.reporting.schemas import mifir_errors, schemas_present
from apps.trading.models import Fill

GENERATOR_ROLE = Role.COMPLIANCE_OFFICER
# A report covers every account of the firm (and a STOR names an alert): it cannot be cut down
# to one user's entitlements, so reading one needs a role that sees every account.
READER_ROLE = Role.RISK_MANAGER
OBJECT_TYPE = "reporting.regulatoryreport"
logger = logging.getLogger(__name__)
MAX_PERIOD_DAYS = 366
NOTHING_TO_REPORT = "mifir_nothing_to_report"
COPY_CHUNK = 1 << 20
# Which status may follow which (a rejected report is fixed by a new version, then submitted).
TRANSITIONS = {
    ReportStatus.DRAFT: {ReportStatus.SUBMITTED},
    ReportStatus.SUBMITTED: {ReportStatus.ACCEPTED, ReportStatus.REJECTED},
    ReportStatus.ACCEPTED: set(),
    ReportStatus.REJECTED: set(),
}


# Reports that carry personal data (blue sheets: customers' names, addresses and tax
# identifiers; MiFIR: natural persons' names, dates of birth and national identifiers):
# downloaded (and blue sheets requested) by a Compliance Officer or above only.
# A STOR names the persons it suspects (and must not reach them: MAR art. 16).
PERSONAL_DATA_TYPES = frozenset(
    {ReportType.BLUE_SHEETS, ReportType.MIFIR_TRANSACTIONS, ReportType.STOR}
)
PERSONAL_DATA_ROLE = Role.COMPLIANCE_OFFICER
# What each report type is asked for beyond its period (the others take nothing).
PARAMETERS = {ReportType.BLUE_SHEETS: ("symbol", "request_reference")}
REQUEST_REFERENCE_MAX = 64


def formats_for(report_type: str) -> tuple[str, ...]:
    return BUILDERS[report_type].formats


def _checked_request(report_type, period_start, period_end, fmt) -> Period:
    errors = {}
    if report_type not in ReportType.values:
        errors["report_type"] = f"One of {', '.join(ReportType.values)}."
    if fmt not in ReportFormat.values:
        errors["format"] = f"One of {', '.join(ReportFormat.values)}."
    elif report_type in BUILDERS and fmt not in formats_for(report_type):
        errors["format"] = f"A {report_type} report comes as {', '.join(formats_for(report_type))}."
    for name, value in (("period_start", period_start), ("period_end", period_end)):
        if not isinstance(value, date):
            errors[name] = "A date (YYYY-MM-DD)."
    if not errors:
        if period_start > period_end:
            errors["period_end"] = "Must not be before period_start."
        elif report_type not in PARAMETERS and (period_end - period_start).days >= MAX_PERIOD_DAYS:
            errors["period_end"] = f"A period covers at most {MAX_PERIOD_DAYS} days."
        elif period_end > utcnow().date():
            errors["period_end"] = "Lies in the future."
    if errors:
        raise ValidationFailed(details=field_errors(**errors))
    return Period(period_start, period_end)


def retention_horizon(today: date) -> date:
    """The first day whose trading records are still kept (settings.AUDIT_RETENTION_DAYS,
    class `trading`): a request reaching before it asks for records that may be purged."""
    from datetime import timedelta

    return today - timedelta(days=settings.AUDIT_RETENTION_DAYS["trading"])


def _checked_parameters(report_type: str, period: Period, parameters: dict | None) -> dict:
    """What a report on request is asked for, checked (400 naming each problem); {} for the
    scheduled types, which take nothing beyond their period."""
    from apps.trading.models import Instrument

    parameters = dict(parameters or {})
    wanted = PARAMETERS.get(report_type, ())
    errors = {
        name: f"A {report_type} report takes no {name}."
        for name in parameters
        if name not in wanted
    }
    if report_type == ReportType.BLUE_SHEETS:
        symbol = str(parameters.get("symbol") or "").strip()
        reference = str(parameters.get("request_reference") or "").strip()
        if not symbol:
            errors["symbol"] = "The symbol the regulator asks about."
        elif not Instrument.objects.filter(symbol=symbol).exists():
            errors["symbol"] = f"No instrument {symbol}."
        if not reference:
            errors["request_reference"] = "The regulator's reference of the request."
        elif len(reference) > REQUEST_REFERENCE_MAX:
            errors["request_reference"] = f"At most {REQUEST_REFERENCE_MAX} characters."
        horizon = retention_horizon(utcnow().date())
        if period.start < horizon:
            errors["period_start"] = (
                f"Before {horizon}: trading records are kept "
                f"{settings.AUDIT_RETENTION_DAYS['trading']} days (AUDIT_RETENTION_TRADING_DAYS)."
            )
        parameters = {"symbol": symbol, "request_reference": reference}
    if errors:
        raise ValidationFailed(details=field_errors(**errors))
    return parameters


def _same_report(report_type, period: Period, fmt, entity):
    return RegulatoryReport.objects.filter(
        report_type=report_type,
        period_start=period.start,
        period_end=period.end,
        format=fmt,
        regulatory_entity=entity,
    )


def report_generate(
    *,
    report_type: str,
    period_start: date,
    period_end: date,
    fmt: str,
    actor=None,
    schedule: str = "",
    entity=None,
    parameters: dict | None = None,
) -> RegulatoryReport:
    """Build a report and store it as the next version of that report.

    `actor` is the Compliance Officer who asked for it; the beat job passes `schedule` instead.
    `parameters` is what a report on request asks for (blue sheets: `symbol` and
    `request_reference`); an unknown symbol or a period reaching past the trading records'
    retention is a 400 and nothing is stored.
    """
    if actor is not None:
        require_role(actor, GENERATOR_ROLE, "generate reports")
    if report_type == ReportType.STOR:
        raise ValidationFailed(
            "A STOR is made from an alert: draft it there (POST /api/v1/stors/), have a second "
            "Compliance Officer approve it, and its files are exported at approval.",
            code="stor_draft_required",
            details=field_errors(report_type="A STOR needs an approved draft."),
        )
    period = _checked_request(report_type, period_start, period_end, fmt)
    check_entity_receives(report_type, entity)
    if report_type == ReportType.CAT_EVENTS:
        _cat_day_not_filed(period.start)
    parameters = _checked_parameters(report_type, period, parameters)
    same = _same_report(report_type, period, fmt, entity)
    version = (same.aggregate(v=Max("version"))["v"] or 0) + 1
    options = {"parameters": parameters} if parameters else {}
    if report_type == ReportType.MIFIR_TRANSACTIONS:
        options = {
            "version": version,
            "ledger": ledger_for(start=period.start, end=period.end, entity=entity),
        }
    generated_at = utcnow()
    builder = BUILDERS[report_type](
        period=period, entity=entity, generated_at=generated_at, **options
    )
    with tempfile.TemporaryFile() as spool:
        out = HashingWriter(spool)
        WRITERS[fmt](builder, out)
        spool.seek(0)
        if options.get("ledger") is not None and options["ledger"].held and not builder.lines:
            _nothing_to_send(same, period, builder, actor=actor, schedule=schedule)
        if report_type == ReportType.MIFIR_TRANSACTIONS and fmt == ReportFormat.XML:
            if builder.record_count == 0:
                # auth.016 holds at least one transaction: a day with none has no file to file.
                raise Conflict(
                    "No MiFIR-reportable transaction in the period: there is no file to send.",
                    code=NOTHING_TO_REPORT,
                    details={"summary": builder.summary().as_dict()},
                )
            _mifir_schema_check(spool)
            spool.seek(0)
        report = RegulatoryReport(
            report_type=report_type,
            regulatory_entity=entity,
            period_start=period.start,
            period_end=period.end,
            format=fmt,
            version=version,
            sha256=out.sha256,
            size=out.size,
            record_count=builder.record_count,
            summary=builder.summary().as_dict(),
            parameters=parameters,
            generated_by=actor,
            schedule=schedule,
            generated_at=generated_at,
        )
        suffix = period.start.isoformat()
        if period.end != period.start:
            suffix += f"_{period.end.isoformat()}"
        if parameters.get("symbol"):
            suffix = f"{parameters['symbol'].replace('/', '-')}_{suffix}"
        name = f"{report_type}_{suffix}_v{version}.{fmt}"
        if hasattr(builder, "file_name"):  # a name the regulator's spec sets (CAT)
            name = builder.file_name(version)
        try:
            with transaction.atomic():
                report.file.save(name, File(spool, name=name), save=False)
                clean_or_raise(report, exclude=["generated_by", "regulatory_entity"])
                report.save()
                _transactions_record(report, builder)
                # Report rows before the audit chain's head, as a fill's mark takes them.
                rerun_of = _rerun_done(same, report)
                audit_record(
                    event_type=EventType.REPORT_GENERATED,
                    actor=actor,
                    object_type=OBJECT_TYPE,
                    object_id=report.pk,
                    payload={**_report_payload(report), "rerun_of": rerun_of},
                )
                _mark_if_fills_came_during_build(report, actor=actor)
        except (IntegrityError, ValidationFailed) as exc:
            if report.file.name:
                report.file.storage.delete(report.file.name)
            if isinstance(exc, ValidationFailed) and "__all__" not in exc.details:
                raise
            raise Conflict(
                "The same report was generated at the same moment; try again.",
                code="report_version_taken",
                details={"version": version},
            ) from None
    return report


def _cat_day_not_filed(day: date, *, but: int | None = None) -> None:
    """A CAT trading day is filed once: after that, what changes goes to CAT as repair records
    in a later day's file (the same firmROEIDs in a second file would be duplicates)."""
    filed = (
        RegulatoryReport.objects.filter(
            report_type=ReportType.CAT_EVENTS, period_start=day, status__in=FILED
        )
        .exclude(pk=but)
        .values_list("pk", flat=True)
        .first()
    )
    if filed is not None:
        raise Conflict(
            f"CAT day {day} was filed (report {filed}): a change of it goes to CAT as repair "
            "records in the next file, not as a second file of the day.",
            code="cat_day_filed",
            details={"filed_report": filed},
        )


def _mifir_schema_check(spool) -> None:
    """The file against ESMA's schemas (head.003, head.001, auth.016) before it is stored: an
    invalid file is an error, never a stored report. Without the schemas (MIFIR_SCHEMA_DIR),
    the file is refused unless settings.MIFIR_SCHEMA_REQUIRED is off."""
    directory = settings.MIFIR_SCHEMA_DIR
    if not schemas_present(directory):
        if settings.MIFIR_SCHEMA_REQUIRED:
            raise Conflict(
                "ESMA's MiFIR schemas are not installed: the file cannot be validated, so it "
                "is not stored.",
                code="mifir_schemas_missing",
                details={"MIFIR_SCHEMA_DIR": str(directory)},
            )
        logger.warning("MiFIR file not validated: no schemas in %s", directory)
        return
    errors = mifir_errors(spool, directory)
    if errors:
        logger.error("MiFIR file invalid against the schemas", extra={"errors": errors[:5]})
        raise ValidationFailed(
            "The MiFIR file is not valid against ESMA's schemas: nothing was stored.",
            code="mifir_schema_invalid",
            details={"schema_errors": errors[:50]},
        )


def _transactions_record(report: RegulatoryReport, builder) -> None:
    """The lines a MiFIR report carries, beside it (what a filing of it tells the regulator)."""
    lines = getattr(builder, "lines", None)
    if not lines:
        return
    ReportedTransaction.objects.bulk_create(
        [
            ReportedTransaction(
                report=report,
                action=action,
                reference=reference,
                fill_id=fill_id,
                version=version,
                trade_date=day,
                content_hash=digest,
            )
            for action, reference, fill_id, version, day, digest in lines
        ],
        batch_size=2000,
    )


def _nothing_to_send(same, period: Period, builder, *, actor, schedule: str):
    """A MiFIR build after filing found every transaction of the period held by the regulator,
    unchanged: there is no file to send (an auth.016 file holds at least one transaction).
    The versions waiting for a re-run are cleared (the check is the re-run), audited, and the
    caller hears 409 `nothing_to_send`."""
    with transaction.atomic():
        waiting = list(
            same.select_for_update().filter(stale_since__isnull=False).values_list("pk", flat=True)
        )
        latest = same.order_by("-version").values_list("pk", flat=True).first()
        audit_record(
            event_type=EventType.REPORT_GENERATED,
            actor=actor,
            object_type=OBJECT_TYPE,
            object_id=latest or "",
            payload={
                "outcome": "nothing_to_send",
                "report_type": ReportType.MIFIR_TRANSACTIONS,
                "period_start": str(period.start),
                "period_end": str(period.end),
                "unchanged": builder.unchanged,
                "schedule": schedule,
                "rerun_of": waiting,
            },
        )
        if waiting:
            RegulatoryReport.objects.filter(pk__in=waiting).update(stale_since=None, stale_fills=0)
    raise Conflict(
        "Every transaction of the period is held by the regulator unchanged: nothing to send.",
        code="nothing_to_send",
        details={"unchanged": builder.unchanged, "rerun_of": waiting},
    )


# --- re-runs: fills booked after a report was built -----------------------------------------


def _fill_scope(day: date) -> Q:
    """The reports whose contents a fill executed on `day` (UTC) changes."""
    in_period = [t for t, b in BUILDERS.items() if b.reads_fills == FILLS_IN_PERIOD]
    to_end = [t for t, b in BUILDERS.items() if b.reads_fills == FILLS_TO_PERIOD_END]
    return Q(report_type__in=in_period, period_start__lte=day, period_end__gte=day) | Q(
        report_type__in=to_end, period_end__gte=day
    )


def _mark(report_ids: list[int], *, fills: int, at: datetime, actor, why: dict) -> None:
    """Mark reports for a re-run (the first mark keeps its time), one audit event each."""
    rows = list(
        RegulatoryReport.objects.select_for_update()
        .filter(pk__in=report_ids)
        .order_by("pk")
        .values_list("pk", "stale_since", "stale_fills")
    )
    if not rows:
        return
    for pk, stale_since, stale_fills in rows:
        audit_record(
            event_type=EventType.REPORT_RERUN_NEEDED,
            actor=actor,
            object_type=OBJECT_TYPE,
            object_id=pk,
            payload={
                **why,
                "stale_since": stale_since or at,
                "late_fills": stale_fills + fills,
            },
        )
    RegulatoryReport.objects.filter(pk__in=[r[0] for r in rows], stale_since__isnull=True).update(
        stale_since=at
    )
    RegulatoryReport.objects.filter(pk__in=[r[0] for r in rows]).update(
        stale_fills=F("stale_fills") + fills
    )


def report_mark_for_rerun(*, fill, actor) -> list[int]:
    """A fill was booked (trading's `fill_booked` hook, in the fill's transaction): every report
    already built that it belongs in is marked for a re-run, audited. Returns their ids."""
    day = fill.executed_at.astimezone(UTC).date()
    ids = list(RegulatoryReport.objects.filter(_fill_scope(day)).values_list("pk", flat=True))
    _mark(
        ids,
        fills=1,
        at=utcnow(),
        actor=actor,
        why={
            "reason": "fill_booked_after_build",
            "fill": fill.pk,
            "exec_id": fill.exec_id,
            "executed_at": fill.executed_at,
        },
    )
    return ids


def report_mark_for_fill_change(*, fill, actor, change: str) -> list[int]:
    """A booked fill was corrected or busted (trading's `fill_changed` hook, in its
    transaction): every report already built that it belongs in is marked for a re-run."""
    day = fill.executed_at.astimezone(UTC).date()
    ids = list(RegulatoryReport.objects.filter(_fill_scope(day)).values_list("pk", flat=True))
    _mark(
        ids,
        fills=1,
        at=utcnow(),
        actor=actor,
        why={
            "reason": f"fill_{change}_after_build",
            "fill": fill.pk,
            "exec_id": fill.exec_id,
            "executed_at": fill.executed_at,
        },
    )
    return ids


def _rerun_done(same, report: RegulatoryReport) -> list[int]:
    """The earlier versions of a report that were waiting for a re-run: the new version is it.
    Their mark is cleared (the REPORT_GENERATED event of the new version lists them)."""
    waiting = same.exclude(pk=report.pk).filter(stale_since__isnull=False)
    ids = list(waiting.order_by("pk").values_list("pk", flat=True))
    if ids:
        RegulatoryReport.objects.filter(pk__in=ids).update(stale_since=None, stale_fills=0)
    return ids


def _mark_if_fills_came_during_build(report: RegulatoryReport, *, actor) -> None:
    """The builder read the fills before this transaction: a fill booked meanwhile may be
    missing from the file, and its own mark found no row to mark yet. Mark the report now."""
    builder = BUILDERS[report.report_type]
    if not builder.reads_fills:
        return
    period = Period(report.period_start, report.period_end)
    late = Fill.objects.filter(created_at__gte=report.generated_at, executed_at__lt=period.end_at)
    if builder.reads_fills == FILLS_IN_PERIOD:
        late = late.filter(executed_at__gte=period.start_at)
    count = late.count()
    if count:
        _mark(
            [report.pk],
            fills=count,
            at=report.generated_at,
            actor=actor,
            why={"reason": "fills_booked_during_build", "fills": count},
        )


def _report_payload(report: RegulatoryReport) -> dict:
    return {
        "report_type": report.report_type,
        "regulatory_entity": report.regulatory_entity.code if report.regulatory_entity else None,
        "period_start": str(report.period_start),
        "period_end": str(report.period_end),
        "format": report.format,
        "version": report.version,
        "file": report.file.name,
        "sha256": report.sha256,
        "size": report.size,
        "record_count": report.record_count,
        "schedule": report.schedule,
        "parameters": report.parameters,
    }


# --- downloads --------------------------------------------------------------------------------


def _integrity_failed(report: RegulatoryReport, *, actor, found: str | None) -> Conflict:
    """Record the refusal and alert compliance staff (critical), then say why."""
    problem = "missing" if found is None else "sha256_mismatch"
    logger.critical(
        "report file integrity failed",
        extra={"report": report.pk, "file": report.file.name, "problem": problem},
    )
    with transaction.atomic():
        audit_record(
            event_type=EventType.REPORT_DOWNLOADED,
            actor=actor,
            object_type=OBJECT_TYPE,
            object_id=report.pk,
            payload={
                "outcome": "refused",
                "problem": problem,
                "expected_sha256": report.sha256,
                "found_sha256": found,
                "file": report.file.name,
            },
            regulatory=True,
        )
        alert_notify(
            kind="report.integrity_failed",
            severity="critical",
            subject=f"Report file altered or missing: {report} (#{report.pk})",
            text=(
                f"The stored file of report #{report.pk} ({report}) no longer matches the SHA-256 "
                f"recorded when it was generated on {rfc3339(report.generated_at)}.\n\n"
                f"  file: {report.file.name}\n  expected: {report.sha256}\n"
                f"  found: {found or 'no file'}\n\nThe download was refused. Regenerate the "
                f"report and find out how the file changed."
            ),
            payload={"report_id": report.pk, "expected": report.sha256, "found": found},
            object_type=OBJECT_TYPE,
            object_id=report.pk,
        )
    return Conflict(
        "The report file does not match its recorded SHA-256; the download is refused and "
        "compliance staff have been alerted.",
        code="report_integrity_failed",
        details={"id": report.pk, "expected_sha256": report.sha256, "found_sha256": found},
    )


def _verified_copy(report: RegulatoryReport, *, actor):
    """A copy of the stored file, made while hashing it, once the hash matches the recorded
    SHA-256 (a binary file at position 0; the caller closes it). A mismatch or a missing file
    is recorded, alerted and raised."""
    copy = tempfile.SpooledTemporaryFile(max_size=8 * COPY_CHUNK)  # noqa: SIM115 - returned
    hashing = HashingWriter(copy)
    try:
        with report.file.storage.open(report.file.name, "rb") as stored:
            while chunk := stored.read(COPY_CHUNK):
                hashing.write(chunk)
        found = hashing.sha256
    except (FileNotFoundError, OSError, ValueError):
        found = None
    if found != report.sha256:
        copy.close()
        raise _integrity_failed(report, actor=actor, found=found)
    copy.seek(0)
    return copy


def report_download_open(*, report: RegulatoryReport, actor):
    """A verified copy of the report's file (a binary file at position 0; the caller closes it).

    What is served is exactly what was checked: the copy made while hashing the stored file.
    A report with personal data (blue sheets) is served to a Compliance Officer or above only.
    """
    if report.report_type in PERSONAL_DATA_TYPES:
        require_role(actor, PERSONAL_DATA_ROLE, "download a report with personal data")
    copy = _verified_copy(report, actor=actor)
    with transaction.atomic():
        audit_record(
            event_type=EventType.REPORT_DOWNLOADED,
            actor=actor,
            object_type=OBJECT_TYPE,
            object_id=report.pk,
            payload={"outcome": "served", "sha256": report.sha256, "file": report.file.name},
        )
    return copy


# --- filing -----------------------------------------------------------------------------------


def _invalid_transition(report: RegulatoryReport, status: str) -> ValidationFailed:
    allowed = sorted(TRANSITIONS[ReportStatus(report.status)])
    return ValidationFailed(
        f"A {report.status} report cannot become {status}.",
        code="invalid_transition",
        details={"status": [f"From {report.status}: {', '.join(allowed) or 'no further step'}."]},
    )


def _outdated_check(report: RegulatoryReport) -> None:
    """A MiFIR report is the difference from what the regulator held when it was built: once
    another report of an overlapping period was filed, accepted or rejected after that (or its
    feedback imported), it is out of date (409)."""
    if report.report_type != ReportType.MIFIR_TRANSACTIONS:
        return
    later = RegulatoryReport.objects.filter(
        report_type=ReportType.MIFIR_TRANSACTIONS,
        regulatory_entity=report.regulatory_entity,
        period_start__lte=report.period_end,
        period_end__gte=report.period_start,
        status__in=SENT,
        status_changed_at__gt=report.generated_at,
    ).exclude(pk=report.pk)
    feedback_since = ReportFeedback.objects.filter(
        report__report_type=ReportType.MIFIR_TRANSACTIONS,
        report__regulatory_entity=report.regulatory_entity,
        report__period_start__lte=report.period_end,
        report__period_end__gte=report.period_start,
        imported_at__gt=report.generated_at,
    ).values_list("report_id", flat=True)
    newer = later.order_by("pk").values_list("pk", flat=True).first() or feedback_since.first()
    if newer is not None:
        raise Conflict(
            "Another report of this period was filed after this one was built: build the "
            "period again and submit the new version.",
            code="report_outdated",
            details={"id": report.pk, "filed_since": newer},
        )


@transaction.atomic
def report_status_set(
    *,
    report: RegulatoryReport,
    actor,
    status: str,
    note: str = "",
    submission_reference: str = "",
    regulator_response: str = "",
) -> RegulatoryReport:
    """Record a filing step: draft -> submitted -> accepted | rejected. `note` is the
    regulator's reference of a submission (unless `submission_reference` gives it) and the
    regulator's response to an acceptance or rejection (unless `regulator_response` does).
    A step out of order is a 400 (`invalid_transition`) that changes nothing."""
    require_role(actor, GENERATOR_ROLE, "file reports")
    locked = RegulatoryReport.objects.select_for_update().get(pk=report.pk)
    if status not in ReportStatus.values:
        raise ValidationFailed(details=field_errors(status=f"One of {', '.join(ReportStatus)}."))
    if status not in TRANSITIONS[ReportStatus(locked.status)]:
        raise _invalid_transition(locked, status)
    note = (note or "").strip()
    if status == ReportStatus.SUBMITTED:
        reference = submission_reference.strip() or note
        if not reference:
            raise ValidationFailed(
                details=field_errors(note="The regulator's reference of the submission.")
            )
        if len(reference) > 128:
            raise ValidationFailed(details=field_errors(note="At most 128 characters."))
        _outdated_check(locked)
        if locked.report_type == ReportType.CAT_EVENTS:
            _cat_day_not_filed(locked.period_start, but=locked.pk)
        if locked.summary.get("totals", {}).get("complete") is False:
            raise Conflict(
                "The report is not complete (its summary says what is missing): fix that, "
                "build it again and submit the new version.",
                code="report_incomplete",
                details={"id": locked.pk},
            )
        locked.submission_reference = reference
    else:
        response = regulator_response.strip() or note
        if response:
            locked.regulator_response = response
    before = locked.status
    locked.status = status
    locked.status_changed_at = utcnow()
    clean_or_raise(locked, exclude=["generated_by", "regulatory_entity"], constraints=False)
    locked.save(
        update_fields=[
            "status",
            "submission_reference",
            "regulator_response",
            "status_changed_at",
        ]
    )
    audit_record(
        event_type=EventType.REPORT_STATUS_CHANGED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=locked.pk,
        payload={
            "from": before,
            "to": status,
            "note": note,
            "submission_reference": locked.submission_reference,
            "regulator_response": locked.regulator_response,
            "sha256": locked.sha256,
        },
    )
    if locked.report_type == ReportType.STOR:
        from apps.reporting.stor import stor_filing_follow

        stor_filing_follow(report=locked, actor=actor, status=status, note=note)
    return locked


def _bad_feedback(problems: list[str]) -> ValidationFailed:
    return ValidationFailed(
        "Not a feedback file (docs/reporting.md).",
        code="invalid_feedback_file",
        details={"file": problems},
    )


@transaction.atomic
def report_feedback_import(
    *, report: RegulatoryReport, actor, raw: bytes, filename: str = ""
) -> ReportFeedback:
    """Import the regulator's per-transaction feedback on a filed MiFIR report.

    Each line sets the outcome of one transaction line of the report (ACPT, or RJCT with the
    error); a rejected transaction is no longer held by the regulator, so the next build of
    its day reports it again. A submitted report becomes accepted (the regulator processed the
    file). Anything wrong with the file (not CSV, wrong header, a reference the report does not
    carry) is a 400 (`invalid_feedback_file`) and nothing is stored."""
    require_role(actor, GENERATOR_ROLE, "import regulator feedback")
    locked = RegulatoryReport.objects.select_for_update().get(pk=report.pk)
    if locked.report_type != ReportType.MIFIR_TRANSACTIONS:
        raise ValidationFailed(
            "Only a MiFIR transaction report has per-transaction feedback.",
            code="invalid_feedback_file",
            details={"report": [f"A {locked.report_type} report."]},
        )
    if locked.status not in FILED:
        raise ValidationFailed(
            f"A {locked.status} report has no feedback: submit it first.",
            code="invalid_transition",
            details={"status": [f"The report is {locked.status}."]},
        )
    try:
        lines = feedback_parse(raw)
    except ValueError as exc:
        raise _bad_feedback(list(exc.args[0])) from None
    carried = {
        reference: pk for pk, reference in locked.transactions.values_list("pk", "reference")
    }
    unknown = [line.reference for line in lines if line.reference not in carried]
    if unknown:
        raise _bad_feedback(
            [f"Not a transaction of report #{locked.pk}: {', '.join(unknown[:20])}."]
        )
    rows = {row.reference: row for row in locked.transactions.select_for_update()}
    for line in lines:
        row = rows[line.reference]
        row.feedback_status = line.status
        row.feedback_code = line.error_code if line.status == FeedbackStatus.REJECTED else ""
        row.feedback_message = line.error_message
    ReportedTransaction.objects.bulk_update(
        [rows[line.reference] for line in lines],
        ["feedback_status", "feedback_code", "feedback_message"],
        batch_size=2000,
    )
    rejected = [line for line in lines if line.status == FeedbackStatus.REJECTED]
    feedback = ReportFeedback(
        report=locked,
        filename=(filename or "feedback.csv")[:255],
        sha256=hashlib.sha256(raw).hexdigest(),
        content=raw.decode("utf-8-sig"),
        accepted=len(lines) - len(rejected),
        rejected=len(rejected),
        imported_by=actor,
        imported_at=utcnow(),
    )
    clean_or_raise(feedback, exclude=["report", "imported_by"])
    feedback.save()
    audit_record(
        event_type=EventType.REPORT_FEEDBACK_IMPORTED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=locked.pk,
        payload={
            "feedback": feedback.pk,
            "file": feedback.filename,
            "sha256": feedback.sha256,
            "accepted": feedback.accepted,
            "rejected": feedback.rejected,
            "rejections": [
                {"reference": r.reference, "code": r.error_code, "message": r.error_message}
                for r in rejected[:200]
            ],
        },
    )
    if locked.status == ReportStatus.SUBMITTED:
        report_status_set(
            report=locked,
            actor=actor,
            status=ReportStatus.ACCEPTED,
            note=f"Feedback {feedback.filename}: {feedback.accepted} accepted, "
            f"{feedback.rejected} rejected.",
        )
    return feedback


# --- the schedule -----------------------------------------------------------------------------


def reports_daily_generate(
    *, today: date, reports: list[tuple[str, str]], schedule: str, calendar_code: str
) -> list[RegulatoryReport]:
    """Build the daily reports that are due.

    MiFIR transaction reports follow the firm's reporting calendar (`mifir_days_due`): every
    day that needs one, over the last `MIFIR_CATCH_UP_DAYS` days, weekends and US holidays
    included when something traded. The other reports follow `calendar_code`: on its business
    days, the previous business day's; nothing new on a day it is closed.

    A report that this schedule already built for its day is not built again (beat may run a
    job twice). Every run, the reports this schedule built that wait for a re-run (a fill was
    booked, corrected or busted in their period after they were built) are built again first
    (`reports_rerun_stale`).
    """
    built = reports_rerun_stale(schedule=schedule)
    business = is_business_day(calendar_code, today)
    for report_type, fmt in reports:
        if report_type == ReportType.MIFIR_TRANSACTIONS:
            periods = [(day, day) for day in mifir_days_due(today)]
        elif report_type == ReportType.RULE_606:
            # Quarterly: the quarter just ended, on the business days after it (built once).
            periods = [previous_quarter(today)] if business else []
        elif business:
            day = previous_business_day(calendar_code, today)
            periods = [(day, day)]
        else:
            periods = []
        for start, end in periods:
            done = RegulatoryReport.objects.filter(
                report_type=report_type,
                period_start=start,
                period_end=end,
                format=fmt,
                regulatory_entity=None,
                schedule=schedule,
            )
            if done.exists():
                continue
            report = _scheduled_build(report_type, start, end, fmt, schedule=schedule)
            if report is not None:
                built.append(report)
    return built


def previous_quarter(today: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter before the one `today` is in."""
    first_month = 3 * ((today.month - 1) // 3) + 1  # this quarter's first month
    this_quarter = date(today.year, first_month, 1)
    end = this_quarter - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def mifir_days_due(today: date) -> list[date]:
    """The days before `today`, back `MIFIR_CATCH_UP_DAYS`, that need a MiFIR report
    (`apps.reporting.lifecycle.reporting_days`)."""
    from datetime import timedelta

    from django.conf import settings

    back = max(1, settings.MIFIR_CATCH_UP_DAYS)
    return reporting_days(today - timedelta(days=back), today - timedelta(days=1))


def _scheduled_build(
    report_type: str, start: date, end: date, fmt: str, *, schedule: str
) -> RegulatoryReport | None:
    """One report of a schedule; None (logged) when it cannot be built, so that one report's
    problem does not stop the others."""
    try:
        return report_generate(
            report_type=report_type, period_start=start, period_end=end, fmt=fmt, schedule=schedule
        )
    except PlatformError as exc:
        if exc.code in (NOTHING_TO_REPORT, CAT_NOTHING_TO_REPORT):  # nothing to file that day
            logger.info(
                "scheduled report not needed",
                extra={"report_type": report_type, "format": fmt, "day": str(end)},
            )
            return None
        logger.error(
            "scheduled report not built",
            extra={
                "report_type": report_type,
                "format": fmt,
                "day": str(end),
                "error": exc.message,
            },
        )
        return None


def reports_rerun_stale(*, schedule: str) -> list[RegulatoryReport]:
    """Build again every report of `schedule` that waits for a re-run, as its next version (the
    mark moves off the earlier versions when it is built; see `report_generate`)."""
    stale = (
        RegulatoryReport.objects.filter(
            schedule=schedule, regulatory_entity=None, stale_since__isnull=False
        )
        .values_list("report_type", "period_start", "period_end", "format")
        .order_by("period_end", "period_start", "report_type", "format")
        .distinct()
    )
    built = []
    for report_type, start, end, fmt in list(stale):
        report = _scheduled_build(report_type, start, end, fmt, schedule=schedule)
        if report is not None:
            built.append(report)
    return built


def cat_events_due_generate(*, now: datetime, schedule: str) -> list[RegulatoryReport]:
    """The CAT file of each CAT trading day that has ended by `now` (back CAT_CATCH_UP_DAYS)
    and that has no file yet (one file per day: a day already built is never built again by
    the schedule; what changes later goes into the next day's file as repairs)."""
    from apps.reporting.cat import cat_days_due

    built = []
    for day in cat_days_due(now):
        done = RegulatoryReport.objects.filter(
            report_type=ReportType.CAT_EVENTS, period_start=day, period_end=day
        ).exclude(status=ReportStatus.REJECTED)
        if done.exists():
            continue
        report = _scheduled_build(
            ReportType.CAT_EVENTS, day, day, ReportFormat.JSON, schedule=schedule
        )
        if report is not None:
            built.append(report)
    return built
