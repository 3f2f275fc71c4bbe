"""Writes for compliance rules (maker-checker), the restricted list and regulatory entities.

Maker-checker: a rule created, edited, activated, put in shadow testing or retired by one
Compliance Officer takes effect only when a different Compliance Officer approves the change
(SEC 15c3-5(e) review of controls; MiFID II RTS 6 art. 2 segregation of duties). A proposal is
validated in full when it is made, so a bad one is a clear 400 and stores nothing. A proposed
new rule exists at once in status "pending_approval": visible, never evaluated by the gate.

Every approval bumps the rule's `version`, keeps a `RuleVersion` snapshot and bumps the rule set
(`ruleset_bump`) in the same transaction, so every process reloads the rules for its next order.
"""

import copy
import re
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.events import EventType
from apps.audit.services import audit_record, to_payload, update_audited
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed, field_errors
from apps.core.time import utcnow
from apps.core.validation import clean_or_raise
from apps.rbac.access import require_role
from apps.rbac.roles import Role
from apps.rules.checks import REGISTRY
from apps.rules.checks.base import ParameterError
from apps.rules.gate import ruleset_bump
from apps.rules.models import (
    PORTFOLIO_RULE_TYPES,
    ComplianceRule,
    RegulatoryEntity,
    RestrictedListEntry,
    RuleAction,
    RuleChange,
    RuleChangeKind,
    RuleChangeStatus,
    RuleScope,
    RuleStatus,
    RuleVersion,
    WatchListEntry,
)

OFFICER = Role.COMPLIANCE_OFFICER

# The fields a proposal sets. `status` is not among them: it changes through the kinds
# activate / test / retire (and, for a new rule, the optional "status" it goes live in).
RULE_FIELDS = [
    "code",
    "name",
    "description",
    "rule_type",
    "parameters",
    "scope",
    "scope_value",
    "action",
    "effective_from",
    "effective_until",
    "regulatory_entity",
    "regulation",
    "priority",
]
EDITABLE_FIELDS = [f for f in RULE_FIELDS if f != "code"]  # checks in orders cite the code
SNAPSHOT_FIELDS = [*RULE_FIELDS, "status"]
CREATE_DEFAULTS: dict[str, Any] = {
    "description": "",
    "parameters": {},
    "scope": RuleScope.FIRM.value,
    "scope_value": "",
    "action": RuleAction.REJECT.value,
    "effective_from": None,
    "effective_until": None,
    "regulatory_entity": None,
    "regulation": "",
    "priority": 100,
    "status": RuleStatus.ACTIVE.value,
}
# What an approved new rule becomes: live, or straight into shadow testing.
CREATE_TARGET_STATUSES = (RuleStatus.ACTIVE.value, RuleStatus.TESTING.value)
KIND_TARGET_STATUS = {
    RuleChangeKind.ACTIVATE: RuleStatus.ACTIVE.value,
    RuleChangeKind.TEST: RuleStatus.TESTING.value,
    RuleChangeKind.RETIRE: RuleStatus.INACTIVE.value,
}
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
COMMENT_MAX_LENGTH = 2000
FOUR_EYES_MESSAGE = "four-eyes: the proposer cannot approve or reject their own change."


# --- helpers ----------------------------------------------------------------------------------


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def rule_snapshot(rule: ComplianceRule) -> dict[str, Any]:
    """The rule's fields as plain JSON: decimals and times as strings, the entity as its code."""
    out: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        if name == "regulatory_entity":
            entity = rule.regulatory_entity if rule.regulatory_entity_id else None
            out[name] = entity.code if entity is not None else None
        else:
            out[name] = getattr(rule, name)
    return to_payload(out)


def snapshot_values(snapshot: dict[str, Any], *, resolve_entity: bool = True) -> dict[str, Any]:
    """A snapshot (or a change's `proposed`) back as model values, ready to set on a rule."""
    values = {}
    for name in SNAPSHOT_FIELDS:
        if name not in snapshot:
            continue
        value = snapshot[name]
        if name in ("effective_from", "effective_until") and isinstance(value, str):
            value = parse_datetime(value)
        elif name == "regulatory_entity":
            if not resolve_entity:
                continue
            value = RegulatoryEntity.objects.filter(code=value).first() if value else None
            if snapshot[name] and value is None:
                raise ValidationFailed(
                    details=field_errors(regulatory_entity=f"Unknown entity {snapshot[name]!r}.")
                )
        elif name == "parameters":
            value = copy.deepcopy(value or {})
        values[name] = value
    return values


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


def _parse_time(value, name: str, errors: dict[str, list[str]]) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            errors.setdefault(name, []).append("Not a date and time (use ISO 8601 with a zone).")
            return None
        value = parsed
    if not isinstance(value, datetime):
        errors.setdefault(name, []).append("Not a date and time.")
        return None
    if timezone.is_naive(value):
        errors.setdefault(name, []).append("Give a time zone (UTC is expected).")
        return None
    return value


def _normalised(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check every field of a rule as it would be after the change; all errors at once."""
    errors: dict[str, list[str]] = {}
    out = dict(values)

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in ("code", "name", "description", "scope_value", "regulation"):
        value = out.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            err(name, "Must be text.")
            continue
        out[name] = value.strip()
    if creating:
        code = out.get("code", "")
        if not code:
            err("code", "Required.")
        elif not CODE_RE.match(code):
            err("code", "Letters, digits and . _ / - only, starting with a letter or digit.")
        elif ComplianceRule.objects.filter(code=code).exists():
            err("code", f"A rule with the code {code!r} exists.")
    if not out.get("name"):
        err("name", "Required.")

    rule_type = out.get("rule_type")
    module = REGISTRY.get(rule_type) if isinstance(rule_type, str) else None
    if module is None:
        known = ", ".join(sorted(REGISTRY))
        err("rule_type", f"Unknown rule type {rule_type!r}. Known types: {known}.")
    params = out.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        err("parameters", "Must be an object of parameter names and values.")
    elif _has_float(params):
        err("parameters", 'Give numbers as decimal strings ("5000.50"), not floating point.')
    elif module is not None:
        try:
            module.validate(copy.deepcopy(params))
        except ParameterError as exc:
            err("parameters", str(exc))
        except Exception as exc:  # noqa: BLE001 - a validator bug is still a refusal, not a 500
            err("parameters", f"Invalid parameters ({type(exc).__name__}).")
    out["parameters"] = params

    scope = out.get("scope")
    if scope not in RuleScope.values:
        err("scope", f"Must be one of {', '.join(RuleScope.values)}.")
    elif scope == RuleScope.FIRM and out.get("scope_value"):
        err("scope_value", "A firm-wide rule has no scope value; leave it empty.")
    elif scope != RuleScope.FIRM and not out.get("scope_value"):
        err(
            "scope_value",
            f"Required for the {scope} scope: the account code, symbol, sector or asset class.",
        )
    if rule_type in PORTFOLIO_RULE_TYPES and scope not in (RuleScope.FIRM, RuleScope.ACCOUNT):
        err("scope", "A portfolio rule is firm-wide (every account and the firm) or one account's.")
    if out.get("action") not in RuleAction.values:
        err("action", f"Must be one of {', '.join(RuleAction.values)}.")

    start = _parse_time(out.get("effective_from"), "effective_from", errors)
    end = _parse_time(out.get("effective_until"), "effective_until", errors)
    if start and end and end <= start:
        err("effective_until", "Must be after effective_from.")
    out["effective_from"], out["effective_until"] = start, end

    entity = out.get("regulatory_entity")
    if isinstance(entity, RegulatoryEntity):
        pass
    elif entity in (None, ""):
        entity = None
    elif isinstance(entity, str):
        found = RegulatoryEntity.objects.filter(code=entity.strip()).first()
        if found is None:
            err("regulatory_entity", f"Unknown regulatory entity {entity!r}.")
        entity = found
    else:
        err("regulatory_entity", "Give the entity's code.")
        entity = None
    out["regulatory_entity"] = entity

    priority = out.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int | str):
        err("priority", "Must be a whole number.")
    else:
        try:
            out["priority"] = int(priority)
        except ValueError:
            err("priority", "Must be a whole number.")

    if errors:
        raise ValidationFailed("The proposed rule is not valid.", details=errors)
    return out


def _current_values(rule: ComplianceRule) -> dict[str, Any]:
    values = {name: getattr(rule, name) for name in RULE_FIELDS}
    values["regulatory_entity"] = rule.regulatory_entity if rule.regulatory_entity_id else None
    values["parameters"] = copy.deepcopy(rule.parameters or {})
    return values


def _model_check(values: dict[str, Any], rule: ComplianceRule | None) -> None:
    """Model-level validation (lengths, choices, constraints) on an unsaved copy."""
    candidate = copy.copy(rule) if rule is not None else ComplianceRule()
    for name, value in values.items():
        if name in SNAPSHOT_FIELDS:
            setattr(candidate, name, value)
    clean_or_raise(candidate)


def _pending_change(rule: ComplianceRule) -> RuleChange | None:
    return RuleChange.objects.filter(rule=rule, status=RuleChangeStatus.PENDING).first()


def rule_proposal_validate(
    *, kind: str, rule: ComplianceRule | None = None, fields: dict | None = None
) -> tuple[dict | None, dict]:
    """`(before, proposed)` for a proposal, both plain JSON; raises and writes nothing.

    The admin form calls this to show errors next to its fields; `rule_change_propose` calls it
    again inside its transaction.
    """
    fields = dict(fields or {})
    try:
        kind = RuleChangeKind(kind)
    except ValueError:
        raise ValidationFailed(
            details=field_errors(kind=f"Must be one of {', '.join(RuleChangeKind.values)}.")
        ) from None

    if kind == RuleChangeKind.CREATE:
        if rule is not None:
            raise ValidationFailed(details=field_errors(rule="A new rule has no rule yet."))
        unknown = set(fields) - {*RULE_FIELDS, "status"}
        if unknown:
            raise ValidationFailed(details={f: ["Unknown field."] for f in sorted(unknown)})
        merged = {**CREATE_DEFAULTS, **fields}
        target = merged.pop("status") or RuleStatus.ACTIVE.value
        if target not in CREATE_TARGET_STATUSES:
            raise ValidationFailed(
                details=field_errors(
                    status=f"A new rule goes live as one of {', '.join(CREATE_TARGET_STATUSES)}."
                )
            )
        for required in ("code", "name", "rule_type"):
            merged.setdefault(required, "")
        values = _normalised(merged, creating=True)
        _model_check({**values, "status": target}, None)
        proposed = rule_snapshot_from_values({**values, "status": target})
        return None, proposed

    if rule is None:
        raise ValidationFailed(details=field_errors(rule="Which rule is to change?"))
    pending = _pending_change(rule)
    if pending is not None:
        raise Conflict(
            f"Rule {rule.code} already has a pending change (#{pending.pk}); it must be "
            "approved or rejected first.",
            code="rule_change_pending",
            details={"change_id": pending.pk, "rule": rule.code},
        )
    before = rule_snapshot(rule)
    current = _current_values(rule)

    if kind == RuleChangeKind.EDIT:
        unknown = set(fields) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValidationFailed(
                details={
                    f: ["The code of a rule cannot change; retire it and create a new one."]
                    if f == "code"
                    else ["Cannot be changed by an edit."]
                    for f in sorted(unknown)
                }
            )
        if not fields:
            raise ValidationFailed("No change proposed.", details=field_errors(fields="Empty."))
        values = _normalised({**current, **fields}, creating=False)
        values["status"] = rule.status
        _model_check(values, rule)
        proposed = rule_snapshot_from_values(values)
        if proposed == before:
            raise ValidationFailed(
                "No change proposed: the fields are as they are now.",
                details=field_errors(fields="Nothing differs from the rule as it is."),
            )
        return before, proposed

    # activate / test / retire: the status only
    if fields:
        raise ValidationFailed(
            details=field_errors(fields=f"A {kind} change takes no fields; propose an edit.")
        )
    target = KIND_TARGET_STATUS[kind]
    if rule.status == target:
        raise Conflict(f"Rule {rule.code} is already {target}.", code="rule_already_in_status")
    if kind == RuleChangeKind.RETIRE:
        # Retiring must always be possible, even for a rule that no longer validates.
        values = current
    else:
        values = _normalised(current, creating=False)
        _model_check({**values, "status": target}, rule)
    return before, rule_snapshot_from_values({**values, "status": target})


def rule_snapshot_from_values(values: dict[str, Any]) -> dict[str, Any]:
    rule = ComplianceRule()
    for name, value in values.items():
        if name in SNAPSHOT_FIELDS:
            setattr(rule, name, value)
    return rule_snapshot(rule)


def _config_changed(obj, *, actor, payload: dict) -> None:
    """The CONFIG_CHANGED event of a rule, a restricted-list entry or a regulatory entity."""
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        payload=payload,
    )


# --- maker-checker ----------------------------------------------------------------------------


@transaction.atomic
def rule_change_propose(
    *, kind: str, actor, rule: ComplianceRule | None = None, fields: dict | None = None
) -> RuleChange:
    """Propose a change to a rule (or a new rule). Nothing takes effect until another
    Compliance Officer approves it with `rule_change_decide`."""
    require_role(actor, OFFICER, "propose a change to a compliance rule")
    if rule is not None:
        # Lock the rule: two proposals for the same rule cannot both be the pending one.
        rule = ComplianceRule.objects.select_for_update().get(pk=rule.pk)
    before, proposed = rule_proposal_validate(kind=kind, rule=rule, fields=fields)

    if kind == RuleChangeKind.CREATE:
        values = snapshot_values(proposed)
        values["status"] = RuleStatus.PENDING_APPROVAL
        rule = ComplianceRule(version=0, **values)  # version 1 is the first approved one
        clean_or_raise(rule)
        try:
            with transaction.atomic():
                rule.save()
        except IntegrityError:
            raise ValidationFailed(
                details=field_errors(code=f"A rule with the code {rule.code!r} exists.")
            ) from None

    change = RuleChange(rule=rule, kind=kind, before=before, proposed=proposed, proposed_by=actor)
    clean_or_raise(change)
    change.save()
    _config_changed(
        rule,
        actor=actor,
        payload={
            "stage": "proposed",
            "change_id": change.pk,
            "kind": str(kind),
            "rule": rule.code,
            "before": before,
            "proposed": proposed,
        },
    )
    return change


@transaction.atomic
def rule_change_decide(*, change: RuleChange, actor, approve: bool, comment: str) -> RuleChange:
    """Approve (the change takes effect now) or reject a pending change: four-eyes."""
    require_role(actor, OFFICER, "approve or reject a change to a compliance rule")
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(
            "A comment is required.", details=field_errors(comment="Say why (required).")
        )
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            details=field_errors(comment=f"At most {COMMENT_MAX_LENGTH} characters.")
        )
    change = RuleChange.objects.select_for_update().get(pk=change.pk)
    if change.status != RuleChangeStatus.PENDING:
        raise Conflict(
            f"Change #{change.pk} was already {change.status}.",
            code="rule_change_decided",
            details={"change_id": change.pk, "status": change.status},
        )
    if change.proposed_by_id == actor.pk:
        raise PermissionDenied(
            FOUR_EYES_MESSAGE, code="four_eyes", details={"change_id": change.pk}
        )
    rule = ComplianceRule.objects.select_for_update().get(pk=change.rule_id)
    now = utcnow()
    base = {"change_id": change.pk, "kind": change.kind, "rule": rule.code, "comment": comment}

    if not approve:
        if change.kind == RuleChangeKind.CREATE and rule.status == RuleStatus.PENDING_APPROVAL:
            rule.status = RuleStatus.INACTIVE
            rule.save(update_fields=["status", "updated_at"])
        _decided(change, actor, RuleChangeStatus.REJECTED, comment, now)
        _config_changed(
            rule,
            actor=actor,
            payload={
                **base,
                "stage": "rejected",
                "before": change.before,
                "proposed": change.proposed,
            },
        )
        return change

    current = rule_snapshot(rule)
    if change.kind == RuleChangeKind.CREATE:
        stale = rule.status != RuleStatus.PENDING_APPROVAL
    else:
        stale = current != change.before
    if stale:
        raise Conflict(
            f"Rule {rule.code} changed after change #{change.pk} was proposed; reject it and "
            "propose again.",
            code="rule_change_stale",
            details={"change_id": change.pk},
        )
    values = snapshot_values(change.proposed)
    changed = []
    for name, value in values.items():
        if getattr(rule, name) != value:
            setattr(rule, name, value)
            changed.append(name)
    rule.version += 1
    clean_or_raise(rule)
    rule.save(update_fields=[*changed, "version", "updated_at"])
    after = rule_snapshot(rule)
    version = RuleVersion(rule=rule, version=rule.version, snapshot=after, change=change)
    clean_or_raise(version)
    version.save()
    ruleset_bump()
    _decided(change, actor, RuleChangeStatus.APPROVED, comment, now)
    _config_changed(
        rule,
        actor=actor,
        payload={
            **base,
            "stage": "approved",
            "version": rule.version,
            "before": None if change.kind == RuleChangeKind.CREATE else change.before,
            "after": after,
        },
    )
    return change


def _decided(change: RuleChange, actor, status: str, comment: str, now) -> None:
    change.status = status
    change.decided_by = actor
    change.decided_at = now
    change.comment = comment
    change.save(update_fields=["status", "decided_by", "decided_at", "comment"])


# --- the restricted list ----------------------------------------------------------------------


def restricted_entry_fields(entry: RestrictedListEntry) -> dict[str, Any]:
    return to_payload(
        {
            "instrument": entry.instrument.symbol if entry.instrument_id else None,
            "issuer": entry.issuer,
            "reason": entry.reason,
            "effective_from": entry.effective_from,
            "effective_until": entry.effective_until,
        }
    )


def restricted_entry_validate(
    *,
    instrument=None,
    issuer: str = "",
    reason: str = "",
    effective_from=None,
    effective_until=None,
) -> None:
    """The checks of `restricted_entry_add`, for forms that show errors before saving."""
    errors: dict[str, list[str]] = {}
    if instrument is None and not (issuer or "").strip():
        errors["instrument"] = ["Give an instrument or an issuer."]
    if not (reason or "").strip():
        errors["reason"] = ["Required: why it is restricted."]
    start = _parse_time(effective_from, "effective_from", errors)
    end = _parse_time(effective_until, "effective_until", errors)
    if end is not None and end <= (start or utcnow()):
        errors.setdefault("effective_until", []).append("Must be after effective_from.")
    if errors:
        raise ValidationFailed("The restricted list entry is not valid.", details=errors)


def _list_entry_add(
    model, list_name: str, *, actor, instrument, issuer, reason, effective_from, effective_until
):
    """An addition to the restricted list or the watch list: validated, stored, audited."""
    require_role(actor, OFFICER, f"change the {list_name.replace('_', ' ')}")
    restricted_entry_validate(
        instrument=instrument,
        issuer=issuer,
        reason=reason,
        effective_from=effective_from,
        effective_until=effective_until,
    )
    errors: dict[str, list[str]] = {}
    entry = model(
        instrument=instrument,
        issuer=(issuer or "").strip(),
        reason=reason.strip(),
        effective_from=_parse_time(effective_from, "effective_from", errors) or utcnow(),
        effective_until=_parse_time(effective_until, "effective_until", errors),
        added_by=actor,
    )
    clean_or_raise(entry)
    entry.save()
    _config_changed(
        entry,
        actor=actor,
        payload={
            "change": f"{list_name}_added",
            "before": None,
            "after": restricted_entry_fields(entry),
        },
    )
    return entry


def _list_entry_end(model, list_name: str, *, entry, actor, at, ended: tuple[str, str]):
    """The end of an entry of the restricted list or the watch list (from `at`, default now);
    the row stays. `ended`: the message and code of the conflict when it has ended already."""
    require_role(actor, OFFICER, f"change the {list_name.replace('_', ' ')}")
    entry = model.objects.select_for_update().get(pk=entry.pk)
    now = utcnow()
    errors: dict[str, list[str]] = {}
    at = _parse_time(at, "at", errors) or now
    if errors:
        raise ValidationFailed(details=errors)
    if entry.effective_until is not None and entry.effective_until <= now:
        raise Conflict(ended[0], code=ended[1], details={"entry_id": entry.pk})
    if at < entry.effective_from:
        raise ValidationFailed(details=field_errors(at="Cannot end before it started."))
    return update_audited(
        entry,
        changes={"effective_until": at},
        actor=actor,
        payload={"change": f"{list_name}_ended"},
        snapshot=restricted_entry_fields,
    )


@transaction.atomic
def restricted_entry_add(
    *,
    actor,
    instrument=None,
    issuer: str = "",
    reason: str,
    effective_from: datetime | None = None,
    effective_until: datetime | None = None,
) -> RestrictedListEntry:
    """Restrict an instrument, or an issuer (and so its derivatives). Applies at once."""
    entry = _list_entry_add(
        RestrictedListEntry,
        "restricted_list",
        actor=actor,
        instrument=instrument,
        issuer=issuer,
        reason=reason,
        effective_from=effective_from,
        effective_until=effective_until,
    )
    ruleset_bump()
    return entry


@transaction.atomic
def restricted_entry_end(
    *, entry: RestrictedListEntry, actor, at: datetime | None = None
) -> RestrictedListEntry:
    """End a restriction (from `at`, default now). Rows are never deleted: the list's history
    is what a regulator asks for."""
    entry = _list_entry_end(
        RestrictedListEntry,
        "restricted_list",
        entry=entry,
        actor=actor,
        at=at,
        ended=("This restriction has already ended.", "restriction_ended"),
    )
    ruleset_bump()
    return entry


# --- the watch list ---------------------------------------------------------------------------


@transaction.atomic
def watch_entry_add(
    *,
    actor,
    instrument=None,
    issuer: str = "",
    reason: str,
    effective_from: datetime | None = None,
    effective_until: datetime | None = None,
) -> WatchListEntry:
    """Put an instrument or an issuer on the watch list. Trading stays open (the gate never
    reads the list, so nobody learns of it from a rejection); surveillance looks for trading
    ahead of the addition."""
    return _list_entry_add(
        WatchListEntry,
        "watch_list",
        actor=actor,
        instrument=instrument,
        issuer=issuer,
        reason=reason,
        effective_from=effective_from,
        effective_until=effective_until,
    )


@transaction.atomic
def watch_entry_end(*, entry: WatchListEntry, actor, at: datetime | None = None) -> WatchListEntry:
    """Take an entry off the watch list (from `at`, default now); the row stays."""
    return _list_entry_end(
        WatchListEntry,
        "watch_list",
        entry=entry,
        actor=actor,
        at=at,
        ended=("This watch list entry has already ended.", "watch_entry_ended"),
    )


# --- regulatory entities ----------------------------------------------------------------------

ENTITY_FIELDS = ["code", "name", "jurisdiction", "nca_country"]


def _entity_fields(entity: RegulatoryEntity) -> dict[str, str]:
    return {name: getattr(entity, name) for name in ENTITY_FIELDS}


@transaction.atomic
def regulatory_entity_create(
    *, actor, code: str, name: str, jurisdiction: str, nca_country: str = ""
) -> RegulatoryEntity:
    require_role(actor, OFFICER, "change regulatory entities")
    entity = RegulatoryEntity(
        code=(code or "").strip(),
        name=(name or "").strip(),
        jurisdiction=jurisdiction.strip(),
        nca_country=(nca_country or "").strip().upper(),
    )
    clean_or_raise(entity)
    entity.save()
    _config_changed(
        entity,
        actor=actor,
        payload={"change": "created", "before": None, "after": _entity_fields(entity)},
    )
    return entity


@transaction.atomic
def regulatory_entity_update(*, entity: RegulatoryEntity, actor, **changes) -> RegulatoryEntity:
    require_role(actor, OFFICER, "change regulatory entities")
    entity = RegulatoryEntity.objects.select_for_update().get(pk=entity.pk)
    return update_audited(
        entity,
        changes={name: (value or "").strip() for name, value in changes.items()},
        actor=actor,
        allowed=ENTITY_FIELDS,
        payload={"change": "updated"},
    )
