"""Suspicious transaction and order reports (MAR art. 16): drafted from an alert, reviewed by a
second Compliance Officer, exported as a PDF and an XML file (two reports of type `stor`), filed
through the reports' status endpoint, and the alert marked reported when it is submitted.

Every step is audited (STOR_UPDATED; the exported files REPORT_GENERATED; the alert's mark
ALERT_UPDATED) in its own transaction. Nothing here notifies anyone: a STOR must not reach the
person it concerns (MAR art. 16(2), no tipping off), and channels are not known to be closed to
the front office; the officers' queue is the STOR page.
"""

import re
import tempfile
from datetime import date

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.core.time import rfc3339, utcnow
from apps.core.types import decimal_str
from apps.core.validation import clean_or_raise
from apps.rbac.access import require_role
from apps.rbac.roles import Role
from apps.reporting.formats import HashingWriter
from apps.reporting.jurisdictions import check_entity_receives
from apps.reporting.models import (
    BreachType,
    RegulatoryReport,
    ReportFormat,
    ReportStatus,
    ReportType,
    Stor,
    StorStatus,
)
from apps.reporting.stor_files import stor_pdf, stor_xml
from apps.surveillance.models import Alert, AlertNote, Disposition
from apps.surveillance.selectors import alert_evidence

STOR_ROLE = Role.COMPLIANCE_OFFICER
OBJECT_TYPE = "reporting.stor"
REPORT_OBJECT_TYPE = "reporting.regulatoryreport"
TEXT_MAX = 20000
LIST_MAX_ITEMS = 50
LIST_ITEM_MAX = 500
LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
# What the drafter writes (the transactions and persons are attached from the data).
NARRATIVE_FIELDS = (
    "entity_name",
    "entity_lei",
    "entity_country",
    "person_name",
    "person_position",
    "person_contact",
    "instrument_description",
    "breach_type",
    "suspicion_description",
    "indicators",
    "persons_notes",
    "additional_information",
    "attachments",
)
LIST_FIELDS = ("indicators", "attachments")
LONG_TEXT_FIELDS = ("suspicion_description", "persons_notes", "additional_information")
# Dispositions that say the alert was no abuse: nothing to report.
NOT_SUSPICIOUS = (Disposition.FALSE_POSITIVE, Disposition.DUPLICATE)
# The indicators of MAR Annex I, section A, that each detector's finding shows (a starting
# point the officer edits; Delegated Regulation 2016/522 Annex II details them).
MAR_INDICATORS = {
    "wash_trade": [
        "MAR Annex I A(c): transactions that lead to no change in beneficial ownership."
    ],
    "spoofing": [
        "MAR Annex I A(f): orders that change the representation of the best bid or offer "
        "and are removed before they are executed."
    ],
    "layering": [
        "MAR Annex I A(f): orders that change the representation of the order book and are "
        "removed before they are executed."
    ],
    "rapid_fire": [
        "MAR Annex I A(e): orders and transactions concentrated within a short time span."
    ],
    "marking_close": [
        "MAR Annex I A(g): orders or transactions at or around the time the closing price is "
        "calculated that lead to price changes which affect it."
    ],
    "concentration": [
        "MAR Annex I A(a): orders or transactions that represent a significant proportion of "
        "the daily volume."
    ],
}
BREACH_BY_DETECTOR = {"insider_dealing": BreachType.INSIDER_DEALING}
# A STOR that still stands: a second one of the same alert is refused while one does (a STOR
# the regulator rejected does not stand: the alert can be reported again).
LIVE = Q(status__in=[StorStatus.DRAFT, StorStatus.IN_REVIEW]) | Q(
    status=StorStatus.APPROVED,
    file_report__status__in=[ReportStatus.DRAFT, ReportStatus.SUBMITTED, ReportStatus.ACCEPTED],
)


def _user_name(user) -> str:
    full = user.get_full_name().strip()
    return full or user.get_username()


def _money(value) -> str:
    return "" if value is None else decimal_str(value)


def _attached(alert: Alert) -> tuple[list[dict], list[dict], str]:
    """Section 2 and 4 as the alert's evidence shows them now: its orders, fills and drop-copy
    executions, the persons behind them, and the instruments they are in."""
    evidence = alert_evidence(alert)
    rows: list[dict] = []
    for order in evidence["orders"]:
        rows.append(
            {
                "kind": "order",
                "reference": f"order {order.pk} ({order.client_order_id})",
                "time": rfc3339(order.created_at),
                "account": order.account.code,
                "instrument": order.instrument.symbol,
                "isin": order.instrument.isin,
                "venue": order.instrument.mic,
                "side": order.side,
                "order_type": order.order_type,
                "quantity": _money(order.quantity),
                "price": _money(order.limit_price),
                "currency": order.instrument.currency,
                "status": order.status,
                "trader": order.submitted_by.get_username() if order.submitted_by else "",
            }
        )
    for fill in evidence["fills"]:
        order = fill.order
        rows.append(
            {
                "kind": "fill",
                "reference": f"fill {fill.pk} ({fill.exec_id}) of order {order.pk}",
                "time": rfc3339(fill.executed_at),
                "account": order.account.code,
                "instrument": order.instrument.symbol,
                "isin": order.instrument.isin,
                "venue": fill.venue,
                "side": order.side,
                "order_type": order.order_type,
                "quantity": _money(fill.quantity),
                "price": _money(fill.price),
                "currency": order.instrument.currency,
                "status": fill.status,
                "trader": "",
            }
        )
    for execution in evidence["executions"]:
        rows.append(
            {
                "kind": "execution",
                "reference": f"drop copy {execution.exec_id}",
                "time": rfc3339(execution.executed_at),
                "account": execution.account.code,
                "instrument": execution.instrument.symbol,
                "isin": execution.instrument.isin,
                "venue": execution.venue,
                "side": execution.side,
                "order_type": "",
                "quantity": _money(execution.quantity),
                "price": _money(execution.price),
                "currency": execution.instrument.currency,
                "status": execution.order_status,
                "trader": "",
            }
        )
    rows.sort(key=lambda r: r["time"])
    accounts = {o.account for o in evidence["orders"]}
    accounts |= {f.order.account for f in evidence["fills"]}
    accounts |= {e.account for e in evidence["executions"]}
    if alert.account is not None:
        accounts.add(alert.account)
    persons: list[dict] = []
    owners = {}
    for account in sorted(accounts, key=lambda a: a.code):
        persons.append(
            {
                "role": "client / account holder",
                "name": account.name,
                "identifier": f"account {account.code}"
                + (f", LEI {account.lei}" if account.lei else ""),
            }
        )
        owner = account.beneficial_owner
        owners[owner.pk] = owner
    for owner in owners.values():
        persons.append(
            {
                "role": "beneficial owner",
                "name": owner.name,
                "identifier": f"LEI {owner.lei}" if owner.lei else "",
            }
        )
    traders = {o.submitted_by for o in evidence["orders"] if o.submitted_by is not None}
    for trader in sorted(traders, key=lambda u: u.get_username()):
        persons.append(
            {
                "role": "trader (placed the orders)",
                "name": _user_name(trader),
                "identifier": f"user {trader.get_username()}",
            }
        )
    instruments = {(r["instrument"], r["isin"]) for r in rows}
    if alert.instrument is not None:
        instruments.add((alert.instrument.symbol, alert.instrument.isin))
    described = "; ".join(f"{symbol} (ISIN {isin})" for symbol, isin in sorted(instruments))
    return rows, persons, described[:300]


def _audit(stor: Stor, actor, action: str, **extra) -> None:
    audit_record(
        event_type=EventType.STOR_UPDATED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=stor.pk,
        payload={
            "stor": stor.pk,
            "reference": stor.reference,
            "alert": stor.alert_id,
            "action": action,
            "status": stor.status,
            **extra,
        },
    )


def _clean_text(value, field: str, limit: int, errors: dict) -> str:
    if not isinstance(value, str):
        errors[field] = ["A string."]
        return ""
    text = value.strip()
    if "\x00" in text:
        errors[field] = ["Must not contain NUL."]
    elif len(text) > limit:
        errors[field] = [f"At most {limit} characters."]
    return text


def _checked_changes(changes: dict) -> dict:
    """The narrative fields, checked: unknown fields, wrong types, too long, a malformed LEI or
    an unknown breach type are a 400 naming each problem."""
    errors: dict[str, list[str]] = {}
    out: dict = {}
    for name, value in changes.items():
        if name not in NARRATIVE_FIELDS:
            errors[name] = ["Not a field of a STOR that is written by hand."]
        elif name in LIST_FIELDS:
            if not isinstance(value, list) or len(value) > LIST_MAX_ITEMS:
                errors[name] = [f"A list of at most {LIST_MAX_ITEMS} texts."]
                continue
            items = []
            for item in value:
                text = _clean_text(item, name, LIST_ITEM_MAX, errors)
                if text:
                    items.append(text)
            out[name] = items
        else:
            limit = TEXT_MAX if name in LONG_TEXT_FIELDS else Stor._meta.get_field(name).max_length
            out[name] = _clean_text(value, name, limit, errors)
    if "breach_type" in out and out["breach_type"] not in BreachType.values:
        errors["breach_type"] = [f"One of {', '.join(BreachType.values)}."]
    if out.get("entity_lei") and not LEI.fullmatch(out["entity_lei"]):
        errors["entity_lei"] = ["An LEI: 20 capital letters and digits (ISO 17442)."]
    if out.get("entity_country") and not re.fullmatch(r"[A-Z]{2}", out["entity_country"]):
        errors["entity_country"] = ["An ISO 3166 country code (two capital letters)."]
    if errors:
        raise ValidationFailed(details=errors)
    return out


def _locked(stor: Stor) -> Stor:
    found = Stor.objects.select_for_update().filter(pk=stor.pk).first()
    if found is None:
        raise NotFound("No such STOR.", code="stor_not_found")
    return found


def _entity_checked(entity) -> None:
    check_entity_receives(ReportType.STOR, entity)


@transaction.atomic
def stor_draft(*, alert: Alert, actor, entity=None, **changes) -> Stor:
    """Draft a STOR from an alert: section 1 from the firm's settings and the drafter, sections
    2 and 4 attached from the alert's evidence, section 3's indicators from its detector; the
    drafter edits the rest. An alert closed as no abuse, or one with a STOR still in progress or
    filed, is a 409."""
    require_role(actor, STOR_ROLE, "draft STORs")
    values = _checked_changes(changes)
    _entity_checked(entity)
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("account", "instrument")
        .get(pk=alert.pk)
    )
    if alert.disposition in NOT_SUSPICIOUS:
        raise Conflict(
            f"Alert #{alert.pk} was closed as {alert.get_disposition_display().lower()}: "
            "there is no suspicion to report.",
            code="alert_not_suspicious",
            details={"alert": alert.pk, "disposition": alert.disposition},
        )
    standing = Stor.objects.filter(LIVE, alert=alert).values_list("reference", flat=True).first()
    if standing is not None:
        raise Conflict(
            f"Alert #{alert.pk} already has STOR {standing}: work on that one.",
            code="stor_exists",
            details={"alert": alert.pk, "stor": standing},
        )
    transactions, persons, instruments = _attached(alert)
    now = utcnow()
    stor = Stor(
        reference=f"DRAFT-{now:%Y%m%d%H%M%S%f}",
        alert=alert,
        regulatory_entity=entity,
        entity_name=settings.FIRM_NAME,
        entity_lei=settings.REPORTING_FIRM_LEI,
        entity_country=settings.REPORTING_FIRM_COUNTRY,
        person_name=_user_name(actor),
        person_position="Compliance Officer",
        person_contact=actor.email,
        instrument_description=instruments,
        transactions=transactions,
        breach_type=BREACH_BY_DETECTOR.get(alert.detector, BreachType.MARKET_MANIPULATION),
        indicators=list(MAR_INDICATORS.get(alert.detector, [])),
        persons=persons,
        drafted_by=actor,
        created_at=now,
        updated_at=now,
    )
    for name, value in values.items():
        setattr(stor, name, value)
    clean_or_raise(stor, exclude=["alert", "drafted_by", "regulatory_entity"])
    stor.save()
    stor.reference = f"STOR-{now:%Y}-{stor.pk:06d}"
    stor.save(update_fields=["reference"])
    AlertNote.objects.create(
        alert=alert, author=actor, action="stor_drafted", text=f"STOR {stor.reference} drafted."
    )
    _audit(
        stor,
        actor,
        "drafted",
        regulatory_entity=entity.code if entity else None,
        transactions=len(transactions),
        persons=len(persons),
        **values,
    )
    return stor


@transaction.atomic
def stor_update(*, stor: Stor, actor, entity=..., **changes) -> Stor:
    """Edit a draft's narrative fields (and the competent authority): its drafter only, and only
    while it is a draft (a STOR sent back by its reviewer is a draft again)."""
    require_role(actor, STOR_ROLE, "edit STORs")
    values = _checked_changes(changes)
    if entity is not ...:
        _entity_checked(entity)
    stor = _locked(stor)
    _drafter_only(stor, actor, "edit")
    if stor.status != StorStatus.DRAFT:
        raise _wrong_status(stor, "edited", StorStatus.DRAFT)
    fields = list(values)
    for name, value in values.items():
        setattr(stor, name, value)
    if entity is not ...:
        stor.regulatory_entity = entity
        fields.append("regulatory_entity")
        values["regulatory_entity"] = entity.code if entity else None
    stor.updated_at = utcnow()
    clean_or_raise(stor, exclude=["alert", "drafted_by", "regulatory_entity"])
    stor.save(update_fields=[*fields, "updated_at"])
    _audit(stor, actor, "edited", **values)
    return stor


def _drafter_only(stor: Stor, actor, what: str) -> None:
    if stor.drafted_by_id != actor.pk:
        raise PermissionDenied(
            f"Only the officer who drafted STOR {stor.reference} may {what} it.",
            code="stor_drafter_only",
            details={"drafted_by": stor.drafted_by.get_username()},
        )


def _wrong_status(stor: Stor, what: str, needed: str) -> Conflict:
    return Conflict(
        f"STOR {stor.reference} is {stor.get_status_display().lower()}: only a "
        f"{StorStatus(needed).label.lower()} one can be {what}.",
        code="invalid_transition",
        details={"status": stor.status},
    )


def _missing(stor: Stor) -> dict[str, list[str]]:
    """What the template needs before a STOR can be reviewed."""
    missing = {}
    for name in ("entity_name", "person_name", "suspicion_description", "breach_type"):
        if not str(getattr(stor, name) or "").strip():
            missing[name] = ["Required before review."]
    if not stor.transactions:
        missing["transactions"] = ["The alert's evidence names no order or transaction."]
    if stor.regulatory_entity_id is None:
        missing["regulatory_entity"] = ["The competent authority it is filed with."]
    return missing


@transaction.atomic
def stor_review_request(*, stor: Stor, actor) -> Stor:
    """The drafter sends the draft to a second officer. Every field the template needs must be
    filled (400 `stor_incomplete`, naming each)."""
    require_role(actor, STOR_ROLE, "send STORs for review")
    stor = _locked(stor)
    _drafter_only(stor, actor, "send for review")
    if stor.status != StorStatus.DRAFT:
        raise _wrong_status(stor, "sent for review", StorStatus.DRAFT)
    missing = _missing(stor)
    if missing:
        raise ValidationFailed(
            f"STOR {stor.reference} is not complete.", code="stor_incomplete", details=missing
        )
    now = utcnow()
    stor.status = StorStatus.IN_REVIEW
    stor.review_requested_at = now
    stor.updated_at = now
    stor.save(update_fields=["status", "review_requested_at", "updated_at"])
    _audit(stor, actor, "review_requested")
    return stor


APPROVE, SEND_BACK = "approve", "send_back"


@transaction.atomic
def stor_review(*, stor: Stor, actor, decision: str, comment: str = "") -> Stor:
    """A second Compliance Officer approves the STOR (which exports its PDF and XML files as
    reports of type `stor`, filing status draft) or sends it back to its drafter with a
    comment. The drafter cannot review their own STOR (403 `four_eyes_required`)."""
    require_role(actor, STOR_ROLE, "review STORs")
    errors: dict[str, list[str]] = {}
    if decision not in (APPROVE, SEND_BACK):
        errors["decision"] = [f"One of {APPROVE}, {SEND_BACK}."]
    comment = _clean_text(comment, "comment", TEXT_MAX, errors)
    if decision == SEND_BACK and not comment and "comment" not in errors:
        errors["comment"] = ["Say what the drafter should change."]
    if errors:
        raise ValidationFailed(details=errors)
    stor = _locked(stor)
    if stor.drafted_by_id == actor.pk:
        raise PermissionDenied(
            "Four-eyes: the officer who drafted a STOR cannot review it; another officer must.",
            code="four_eyes_required",
            details={"drafted_by": actor.get_username()},
        )
    if stor.status != StorStatus.IN_REVIEW:
        raise _wrong_status(stor, "reviewed", StorStatus.IN_REVIEW)
    now = utcnow()
    stor.reviewed_by = actor
    stor.reviewed_at = now
    stor.review_comment = comment
    stor.updated_at = now
    if decision == SEND_BACK:
        stor.status = StorStatus.DRAFT
        stor.save(
            update_fields=["status", "reviewed_by", "reviewed_at", "review_comment", "updated_at"]
        )
        _audit(stor, actor, "sent_back", comment=comment)
        return stor
    stor.status = StorStatus.APPROVED
    stor.save(
        update_fields=["status", "reviewed_by", "reviewed_at", "review_comment", "updated_at"]
    )
    _audit(stor, actor, "approved", comment=comment)
    # Both files are made before either is stored: a file that cannot be made leaves nothing.
    pdf, xml = stor_pdf(stor), stor_xml(stor)
    stor.pdf_report = _export(stor, ReportFormat.PDF, pdf, actor=actor)
    stor.file_report = _export(stor, ReportFormat.XML, xml, actor=actor)
    stor.save(update_fields=["pdf_report", "file_report"])
    return stor


def _period(stor: Stor) -> tuple[date, date]:
    """The days the STOR covers: its transactions' (else the alert's window), up to today."""
    days = sorted(row["time"][:10] for row in stor.transactions if row.get("time"))
    start = date.fromisoformat(days[0]) if days else stor.alert.window_start.date()
    end = date.fromisoformat(days[-1]) if days else stor.alert.window_end.date()
    today = utcnow().date()
    return min(start, today), min(end, today)


def _export(stor: Stor, fmt: str, data: bytes, *, actor) -> RegulatoryReport:
    """One file of the STOR stored as a report of type `stor` (SHA-256, size), audited."""
    start, end = _period(stor)
    same = RegulatoryReport.objects.filter(
        report_type=ReportType.STOR,
        period_start=start,
        period_end=end,
        format=fmt,
        regulatory_entity=stor.regulatory_entity,
    )
    version = (same.aggregate(v=Max("version"))["v"] or 0) + 1
    report = RegulatoryReport(
        report_type=ReportType.STOR,
        regulatory_entity=stor.regulatory_entity,
        period_start=start,
        period_end=end,
        format=fmt,
        version=version,
        record_count=len(stor.transactions),
        summary={
            "totals": {
                "STOR reference": stor.reference,
                "Alert": stor.alert_id,
                "Orders and transactions attached": len(stor.transactions),
            }
        },
        parameters={"stor_reference": stor.reference, "alert": str(stor.alert_id)},
        generated_by=actor,
        generated_at=utcnow(),
    )
    name = f"{stor.reference}.{fmt}"
    with tempfile.TemporaryFile() as spool:
        out = HashingWriter(spool)
        out.write(data)
        spool.seek(0)
        report.sha256, report.size = out.sha256, out.size
        try:
            with transaction.atomic():
                report.file.save(name, File(spool, name=name), save=False)
                clean_or_raise(report, exclude=["generated_by", "regulatory_entity"])
                report.save()
        except (IntegrityError, ValidationFailed):
            if report.file.name:
                report.file.storage.delete(report.file.name)
            raise Conflict(
                "Another STOR of the same days was exported at the same moment; try again.",
                code="report_version_taken",
                details={"version": version},
            ) from None
    audit_record(
        event_type=EventType.REPORT_GENERATED,
        actor=actor,
        object_type=REPORT_OBJECT_TYPE,
        object_id=report.pk,
        payload={
            "report_type": report.report_type,
            "regulatory_entity": stor.regulatory_entity.code if stor.regulatory_entity else None,
            "period_start": str(start),
            "period_end": str(end),
            "format": fmt,
            "version": version,
            "file": report.file.name,
            "sha256": report.sha256,
            "size": report.size,
            "record_count": report.record_count,
            "stor": stor.reference,
        },
    )
    return report


# --- filing ------------------------------------------------------------------------------------


def stor_of_report(report: RegulatoryReport) -> Stor | None:
    return (
        Stor.objects.filter(Q(pdf_report=report) | Q(file_report=report))
        .select_related("alert", "pdf_report", "file_report")
        .first()
    )


def stor_filing_follow(*, report: RegulatoryReport, actor, status: str, note: str) -> None:
    """A STOR file's filing status changed (inside `report_status_set`'s transaction): the
    other file of the STOR takes the same step, and a submission marks the alert reported with
    the STOR's reference and the regulator's reference of the submission."""
    from apps.reporting.services import report_status_set

    stor = stor_of_report(report)
    if stor is None:
        raise Conflict(
            "This STOR file was not exported from a STOR.",
            code="stor_draft_required",
            details={"id": report.pk},
        )
    sibling = stor.file_report if stor.pdf_report_id == report.pk else stor.pdf_report
    if sibling is not None and sibling.status != status:
        report_status_set(
            report=sibling,
            actor=actor,
            status=status,
            note=note,
            submission_reference=report.submission_reference,
            regulator_response=report.regulator_response,
        )
    if status == ReportStatus.SUBMITTED:
        _alert_mark_reported(stor, actor=actor, submission_reference=report.submission_reference)
    elif status in (ReportStatus.ACCEPTED, ReportStatus.REJECTED):
        alert = stor.alert
        if not AlertNote.objects.filter(
            alert=alert, action=f"stor_{status}", text__startswith=f"STOR {stor.reference} "
        ).exists():
            AlertNote.objects.create(
                alert=alert,
                author=actor,
                action=f"stor_{status}",
                text=f"STOR {stor.reference} {status} by the regulator"
                + (f": {report.regulator_response}" if report.regulator_response else "."),
            )


def _alert_mark_reported(stor: Stor, *, actor, submission_reference: str) -> None:
    alert = Alert.objects.select_for_update().get(pk=stor.alert_id)
    reference = f"{stor.reference} / {submission_reference}"[:200]
    if alert.report_reference == reference:
        return  # the other file of the same STOR marked it already
    before = alert.report_reference
    alert.reported_at = utcnow()
    alert.report_reference = reference
    alert.save(update_fields=["reported_at", "report_reference", "updated_at"])
    AlertNote.objects.create(
        alert=alert,
        author=actor,
        action="reported",
        text=f"Reported to the regulator: STOR {stor.reference}, submission "
        f"{submission_reference}.",
    )
    audit_record(
        event_type=EventType.ALERT_UPDATED,
        actor=actor,
        object_type="surveillance.alert",
        object_id=alert.pk,
        payload={
            "alert": alert.pk,
            "action": "reported",
            "status": alert.status,
            "stor": stor.reference,
            "submission_reference": submission_reference,
            "before": before,
        },
    )
