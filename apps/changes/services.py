"""Maker-checker for configuration: propose, then a second person approves or rejects.

A proposal is checked in full when it is made (the kind's own validation, the same the model
and the domain service apply), so a bad one is a 400 that stores nothing. It changes nothing
until a different person holding the kind's approving role approves it with a comment; the
approval applies it through the domain's own service in the same transaction, with an audit
event for the proposal, the approval and the rejection each (`CONFIG_CHANGED`, `stage`).
"""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from apps.audit.events import EventType
from apps.audit.services import audit_record, to_payload
from apps.changes.models import ChangeStatus, ConfigChange
from apps.changes.registry import KINDS, ChangeKind, kind_get
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed, field_errors
from apps.core.time import utcnow
from apps.core.validation import clean_or_raise
from apps.rbac.access import require_role

COMMENT_MAX_LENGTH = 2000
FOUR_EYES_MESSAGE = "four-eyes: the proposer cannot approve or reject their own change."


def _kind(name: Any) -> ChangeKind:
    kind = kind_get(name)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise ValidationFailed(
            f"Unknown kind of change {name!r}.",
            code="unknown_kind",
            details=field_errors(kind=f"Must be one of {known}."),
        )
    return kind


def _target(kind: ChangeKind, target: Any) -> Any:
    """The target as the kind knows it: a row (or value) given, or named by its key."""
    if target is None or isinstance(target, str):
        key = (target or "").strip()
        found = kind.resolve(key) if key else None
        if found is None:
            raise ValidationFailed(
                f"No {kind.target_model or 'target'} named {key!r}.",
                code="unknown_target",
                details=field_errors(target=f"Unknown target {key!r} for {kind.name}."),
            )
        return found
    return target


def _locked(target: Any) -> Any:
    """A fresh, locked copy of a row target (two proposals or decisions on it queue)."""
    if isinstance(target, models.Model) and target.pk is not None:
        return type(target).objects.select_for_update().get(pk=target.pk)
    return target


def config_change_check(
    *, kind: Any, target: Any, values: Any
) -> tuple[ChangeKind, Any, dict | None, dict]:
    """`(kind, target, before, proposed)` for a proposal; raises, writes nothing.

    Forms call it to show errors next to their fields; `config_change_propose` calls it again
    inside its transaction."""
    kind = _kind(kind)
    if not isinstance(values, dict):
        raise ValidationFailed(
            details=field_errors(values="Give an object of field names and values.")
        )
    unknown = sorted(set(values) - set(kind.fields))
    if unknown:
        raise ValidationFailed(
            f"A {kind.name} change sets only {', '.join(kind.fields)}.",
            code="unknown_field",
            details={name: ["Unknown field for this kind of change."] for name in unknown},
        )
    missing = [name for name in kind.required if name not in values]
    if missing:
        raise ValidationFailed(details={name: ["Required."] for name in missing})
    if not values:
        raise ValidationFailed("No change proposed.", details=field_errors(values="Empty."))
    target = _target(kind, target)
    key = kind.key(target)
    if kind.one_pending:
        pending = ConfigChange.objects.filter(
            kind=kind.name, target_key=key, status=ChangeStatus.PENDING
        ).first()
        if pending is not None:
            raise Conflict(
                f"{key} already has a pending {kind.name} change (#{pending.pk}); it must be "
                "approved or rejected first.",
                code="change_pending",
                details={"change_id": pending.pk, "target": key},
            )
    proposed = to_payload(kind.check(target, dict(values)))
    before = kind.before(target, list(proposed))
    before = to_payload(before) if before is not None else None
    if kind.stale_checked and before == proposed:
        raise ValidationFailed(
            "No change proposed: the values are as they are now.",
            details=field_errors(values="Nothing differs from the target as it is."),
        )
    return kind, target, before, proposed


def _target_ids(kind: ChangeKind, target: Any) -> tuple[ContentType | None, str]:
    if isinstance(target, models.Model) and target.pk is not None:
        return ContentType.objects.get_for_model(type(target)), str(target.pk)
    return None, ""


def _event(change: ConfigChange, actor, stage: str, **payload) -> None:
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        actor=actor,
        object_type="changes.configchange",
        object_id=change.pk,
        payload={
            "change": "config_change",
            "stage": stage,
            "change_id": change.pk,
            "kind": change.kind,
            "target": change.target_key,
            **payload,
        },
    )


@transaction.atomic
def config_change_propose(
    *, kind: Any, target: Any, values: Any, actor, reason: str = ""
) -> ConfigChange:
    """Propose a change. Nothing takes effect until another person approves it."""
    kind = _kind(kind)
    require_role(actor, kind.propose_role, f"propose a change of {kind.label}")
    reason = (reason or "").strip()
    if len(reason) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            details=field_errors(reason=f"At most {COMMENT_MAX_LENGTH} characters.")
        )
    target = _locked(_target(kind, target))
    kind, target, before, proposed = config_change_check(
        kind=kind.name, target=target, values=values
    )
    # Checked again under the target's lock: two proposals for one target queue here, and
    # the second finds the first pending.
    target_type, target_id = _target_ids(kind, target)
    change = ConfigChange(
        kind=kind.name,
        target_type=target_type,
        target_id=target_id,
        target_key=kind.key(target),
        proposed=proposed,
        before=before,
        reason=reason,
        proposed_by=actor,
    )
    clean_or_raise(change)
    change.save()
    _event(change, actor, "proposed", before=before, proposed=proposed, reason=reason)
    return change


def _decision_target(kind: ChangeKind, change: ConfigChange) -> Any:
    if change.target_type_id and change.target_id:
        model = change.target_type.model_class()
        found = model.objects.select_for_update().filter(pk=change.target_id).first()
    else:
        found = kind.resolve(change.target_key)
    if found is None:
        raise Conflict(
            f"The target {change.target_key} of change #{change.pk} no longer exists; reject it.",
            code="change_target_gone",
            details={"change_id": change.pk},
        )
    return found


@transaction.atomic
def config_change_decide(
    *, change: ConfigChange, actor, approve: bool, comment: str
) -> ConfigChange:
    """Approve (applied now, through the domain's service) or reject a pending change."""
    kind = kind_get(change.kind)
    if kind is None:
        raise Conflict(f"Change #{change.pk} is of an unknown kind.", code="unknown_kind")
    require_role(actor, kind.approve_role, f"approve or reject a change of {kind.label}")
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(
            "A comment is required.", details=field_errors(comment="Say why (required).")
        )
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            details=field_errors(comment=f"At most {COMMENT_MAX_LENGTH} characters.")
        )
    change = ConfigChange.objects.select_for_update().get(pk=change.pk)
    if change.status != ChangeStatus.PENDING:
        raise Conflict(
            f"Change #{change.pk} was already {change.status}.",
            code="change_decided",
            details={"change_id": change.pk, "status": change.status},
        )
    if change.proposed_by_id == actor.pk:
        raise PermissionDenied(
            FOUR_EYES_MESSAGE, code="four_eyes", details={"change_id": change.pk}
        )
    target = _decision_target(kind, change)
    concerned = kind.concerns_user(target) if kind.concerns_user is not None else None
    if concerned is not None and concerned.pk == actor.pk:
        raise PermissionDenied(
            "four-eyes: nobody decides a change of their own access.",
            code="four_eyes",
            details={"change_id": change.pk},
        )
    if not approve:
        _decided(change, actor, ChangeStatus.REJECTED, comment)
        _event(
            change,
            actor,
            "rejected",
            before=change.before,
            proposed=change.proposed,
            comment=comment,
        )
        return change

    if kind.stale_checked:
        now = kind.before(target, list(change.proposed))
        if to_payload(now) != change.before:
            raise Conflict(
                f"{change.target_key} changed after change #{change.pk} was proposed; reject it "
                "and propose again.",
                code="change_stale",
                details={"change_id": change.pk, "before": change.before, "now": to_payload(now)},
            )
    written = kind.apply(target, dict(change.proposed), actor)
    if isinstance(written, models.Model) and written.pk is not None:
        change.applied_id = str(written.pk)
    _decided(change, actor, ChangeStatus.APPROVED, comment, extra=["applied_id"])
    _event(
        change,
        actor,
        "approved",
        before=change.before,
        after=change.proposed,
        applied_id=change.applied_id or None,
        comment=comment,
    )
    return change


def _decided(change: ConfigChange, actor, status: str, comment: str, extra=()) -> None:
    change.status = status
    change.decided_by = actor
    change.decided_at = utcnow()
    change.comment = comment
    change.save(update_fields=["status", "decided_by", "decided_at", "comment", *extra])
