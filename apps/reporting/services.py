"""Generating, downloading and filing regulatory reports.

A report is built outside any transaction (it streams the period's rows into a temporary file
while hashing them), then stored and recorded in one: the file in Django's default storage, the
row with its SHA-256, size and record count, and the REPORT_GENERATED event. A download copies
the stored file while hashing it and hands out the copy only when the hash still matches; a
mismatch is refused and raises a critical alert.
"""

import logging
import tempfile
from datetime import UTC, date, datetime

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
from apps.reporting.builders.mifir import transaction_ids
from apps.reporting.formats import WRITERS, HashingWriter
from apps.reporting.models import RegulatoryReport, ReportFormat, ReportStatus, ReportType
from apps.trading.models import Fill

GENERATOR_ROLE = Role.COMPLIANCE_OFFICER
# A report covers every account of the firm (and a STOR names an alert): it cannot be cut down
# to one user's entitlements, so reading one needs a role that sees every account.
READER_ROLE = Role.RISK_MANAGER
OBJECT_TYPE = "reporting.regulatoryreport"
logger = logging.getLogger(__name__)
MAX_PERIOD_DAYS = 366
COPY_CHUNK = 1 << 20
# Which status may follow which (a rejected report is fixed by a new version, then submitted).
TRANSITIONS = {
    ReportStatus.GENERATED: {ReportStatus.SUBMITTED},
    ReportStatus.SUBMITTED: {ReportStatus.ACCEPTED, ReportStatus.REJECTED},
    ReportStatus.ACCEPTED: set(),
    ReportStatus.REJECTED: set(),
}


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
        elif (period_end - period_start).days >= MAX_PERIOD_DAYS:
            errors["period_end"] = f"A period covers at most {MAX_PERIOD_DAYS} days."
        elif period_end > utcnow().date():
            errors["period_end"] = "Lies in the future."
    if errors:
        raise ValidationFailed(details=field_errors(**errors))
    return Period(period_start, period_end)


def _same_report(report_type, period: Period, fmt, entity):
    return RegulatoryReport.objects.filter(
        report_type=report_type,
        period_start=period.start,
        period_end=period.end,
        format=fmt,
        regulatory_entity=entity,
    )


def _mifir_cancellations(period: Period, entity, *, actor) -> set[str]:
    """Transactions of the last submitted (or accepted) XML version of the period that the new
    version no longer reports: the new file cancels them."""
    previous = (
        _same_report(ReportType.MIFIR_TRANSACTIONS, period, ReportFormat.XML, entity)
        .filter(status__in=[ReportStatus.SUBMITTED, ReportStatus.ACCEPTED])
        .order_by("-version")
        .first()
    )
    if previous is None:
        return set()
    from apps.reporting.builders.mifir import tx_id

    with _verified_copy(previous, actor=actor) as handle:  # what was filed, checked
        reported = transaction_ids(handle)
    current = Fill.objects.filter(
        executed_at__gte=period.start_at, executed_at__lt=period.end_at
    ).values_list("pk", flat=True)
    return reported - {tx_id(pk) for pk in current.iterator(chunk_size=5000)}


def report_generate(
    *,
    report_type: str,
    period_start: date,
    period_end: date,
    fmt: str,
    actor=None,
    schedule: str = "",
    entity=None,
) -> RegulatoryReport:
    """Build a report and store it as the next version of that report.

    `actor` is the Compliance Officer who asked for it; the beat job passes `schedule` instead.
    """
    if actor is not None:
        require_role(actor, GENERATOR_ROLE, "generate reports")
    period = _checked_request(report_type, period_start, period_end, fmt)
    same = _same_report(report_type, period, fmt, entity)
    version = (same.aggregate(v=Max("version"))["v"] or 0) + 1
    options = {}
    if report_type == ReportType.MIFIR_TRANSACTIONS:
        options = {
            "version": version,
            "cancel_tx_ids": _mifir_cancellations(period, entity, actor=actor),
        }
    generated_at = utcnow()
    builder = BUILDERS[report_type](
        period=period, entity=entity, generated_at=generated_at, **options
    )
    with tempfile.TemporaryFile() as spool:
        out = HashingWriter(spool)
        WRITERS[fmt](builder, out)
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
            generated_by=actor,
            schedule=schedule,
            generated_at=generated_at,
        )
        suffix = period.start.isoformat()
        if period.end != period.start:
            suffix += f"_{period.end.isoformat()}"
        name = f"{report_type}_{suffix}_v{version}.{fmt}"
        try:
            with transaction.atomic():
                report.file.save(name, File(spool, name=name), save=False)
                clean_or_raise(report, exclude=["generated_by", "regulatory_entity"])
                report.save()
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
    """
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


@transaction.atomic
def report_status_set(
    *,
    report: RegulatoryReport,
    actor,
    status: str,
    submission_reference: str = "",
    regulator_response: str = "",
) -> RegulatoryReport:
    """Record a filing step: submitted (with the regulator's reference), then accepted or
    rejected (with the regulator's response)."""
    require_role(actor, GENERATOR_ROLE, "file reports")
    locked = RegulatoryReport.objects.select_for_update().get(pk=report.pk)
    if status not in ReportStatus.values:
        raise ValidationFailed(details=field_errors(status=f"One of {', '.join(ReportStatus)}."))
    if status not in TRANSITIONS[ReportStatus(locked.status)]:
        raise Conflict(
            f"A {locked.status} report cannot become {status}.",
            code="report_status_conflict",
            details={"id": locked.pk, "status": locked.status},
        )
    if status == ReportStatus.SUBMITTED and not submission_reference.strip():
        raise ValidationFailed(
            details=field_errors(submission_reference="The regulator's reference is required.")
        )
    before = locked.status
    locked.status = status
    if submission_reference.strip():
        locked.submission_reference = submission_reference.strip()
    if regulator_response.strip():
        locked.regulator_response = regulator_response.strip()
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
            "submission_reference": locked.submission_reference,
            "regulator_response": locked.regulator_response,
            "sha256": locked.sha256,
        },
    )
    return locked


# --- the schedule -----------------------------------------------------------------------------


def reports_daily_generate(
    *, today: date, reports: list[tuple[str, str]], schedule: str, calendar_code: str
) -> list[RegulatoryReport]:
    """On a business day of the calendar, build the previous business day's reports.

    Nothing new on a day the exchange is closed (a weekend, a holiday). A report that this
    schedule already built for that day is not built again (beat may run a job twice). Every
    run, the reports this schedule built that wait for a re-run (a fill was booked in their
    period after they were built) are built again first (`reports_rerun_stale`).
    """
    built = reports_rerun_stale(schedule=schedule)
    if not is_business_day(calendar_code, today):
        return built
    day = previous_business_day(calendar_code, today)
    for report_type, fmt in reports:
        done = RegulatoryReport.objects.filter(
            report_type=report_type,
            period_start=day,
            period_end=day,
            format=fmt,
            regulatory_entity=None,
            schedule=schedule,
        )
        if done.exists():
            continue
        report = _scheduled_build(report_type, day, day, fmt, schedule=schedule)
        if report is not None:
            built.append(report)
    return built


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
