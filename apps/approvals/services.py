"""Held orders: the approval request, the decision, expiry, and closing when the order ends.

Every change locks the order with its account first, then the request, so that a decision, an
expiry and a cancel of the same order queue behind each other instead of deadlocking; and each
checks the request's status once it holds the lock, so that of two at once exactly one wins
and the other is told why (409).
"""

from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.approvals.hooks import recheck_held_order
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, field_errors
from apps.core.time import rfc3339, utcnow
from apps.core.types import decimal_str
from apps.core.validation import clean_or_raise
from apps.notifications.services import Webhook, notify
from apps.rbac import refcache
from apps.rbac.access import require_role
from apps.rbac.roles import Role
from apps.trading.models import Order, OrderStatus
from apps.trading.services import order_expire, order_status_set

DECIDER_ROLE = Role.COMPLIANCE_OFFICER
COMMENT_MAX_LENGTH = 2000
OBJECT_TYPE = "approvals.approvalrequest"


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


# --- what is sent and recorded ----------------------------------------------------------------


def _order_summary(order: Order) -> dict:
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "account": order.account.code,
        "instrument": order.instrument.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "quantity": decimal_str(order.quantity),
        "limit_price": decimal_str(order.limit_price),
        "status": order.status,
    }


def _client_message(approval: ApprovalRequest, order: Order) -> dict:
    """The webhook's data: the outcome and the order it releases or ends."""
    return {
        "approval": {
            "id": approval.pk,
            "status": approval.status,
            "requested_at": rfc3339(approval.requested_at),
            "expires_at": rfc3339(approval.expires_at),
            "decided_at": rfc3339(approval.decided_at) if approval.decided_at else None,
            "decided_by": approval.decided_by.get_username() if approval.decided_by else None,
            "comment": approval.comment,
        },
        "order": _order_summary(order),
    }


def _notify_client(approval: ApprovalRequest, order: Order) -> None:
    """Decisions, expiries and cancels reach the client by its account's signed webhook."""
    account = order.account
    if not account.webhook_url:
        return
    notify(
        event=f"approval.{approval.status}",
        payload=_client_message(approval, order),
        webhook=Webhook(url=account.webhook_url, secret_ref=f"account:{account.pk}"),
        object_type=OBJECT_TYPE,
        object_id=approval.pk,
    )


def compliance_officer_emails() -> list[str]:
    """The active Compliance Officers' addresses, from the process's reference cache (a held
    order reads no user table; a user or role change moves the cache's version)."""
    return refcache.lookup(("compliance_officer_emails",), _emails_read, _emails_built)


def _emails_read():
    User = get_user_model()
    rows = (
        User.objects.filter(is_active=True, groups__name=Role.COMPLIANCE_OFFICER.group_name)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return [(*rows.query.sql_with_params(), ())]


def _emails_built(found: list[tuple]) -> list[str]:
    return [row[0] for row in found]


def _request_text(approval: ApprovalRequest, order: Order) -> tuple[str, str]:
    what = f"{order.side} {decimal_str(order.quantity)} {order.instrument.symbol}"
    price = f" limit {decimal_str(order.limit_price)}" if order.limit_price else " at market"
    subject = f"Held for approval: {what} on {order.account.code} (order {order.pk})"
    held_by = "\n".join(f"  - {c['rule']}: {c.get('message', '')}" for c in approval.rules)
    submitter = order.submitted_by.get_username() if order.submitted_by else "unknown"
    text = (
        f"Order {order.pk} (client id {order.client_order_id}) on account {order.account.code} "
        f"waits for a compliance decision.\n\n"
        f"  {what}{price}\n"
        f"  submitted by {submitter} at {rfc3339(approval.requested_at)}\n"
        f"  expires at {rfc3339(approval.expires_at)}\n\n"
        f"Held by:\n{held_by or '  (no rule named)'}\n\n"
        f"Approve or deny it (another officer than the submitter): "
        f"{settings.SITE_URL}/approvals/{approval.pk}/\n"
    )
    return subject, text


# --- the request ------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)  # the gate's own transaction: all of it or none
def approval_request_create(
    *, order: Order, rules: list[dict], ttl_seconds: int | None = None, actor=None
) -> ApprovalRequest:
    now = utcnow()
    ttl = ttl_seconds or settings.APPROVAL_TTL_SECONDS
    request = ApprovalRequest(
        order=order, rules=rules, requested_at=now, expires_at=now + timedelta(seconds=ttl)
    )
    clean_or_raise(request, exclude=["order"])
    request.save()
    audit_record(
        event_type=EventType.APPROVAL_REQUESTED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=request.pk,
        payload={
            "order_id": order.pk,
            "expires_at": request.expires_at,
            "rules": [r["rule"] for r in rules],
        },
    )
    subject, text = _request_text(request, order)
    notify(
        event="approval.requested",
        payload=_client_message(request, order),
        subject=subject,
        text=text,
        emails=compliance_officer_emails(),
        object_type=OBJECT_TYPE,
        object_id=request.pk,
    )
    return request


# --- closing ----------------------------------------------------------------------------------


def _not_pending(approval: ApprovalRequest) -> Conflict:
    who = approval.decided_by.get_username() if approval.decided_by else None
    when = rfc3339(approval.decided_at) if approval.decided_at else None
    messages = {
        ApprovalStatus.APPROVED: f"This request was already approved by {who}.",
        ApprovalStatus.DENIED: f"This request was already denied by {who}.",
        ApprovalStatus.EXPIRED: "This request expired before a decision.",
        # The order ended by another path: canceled, or expired by its time in force.
        ApprovalStatus.CANCELED: f"The held order ended first: {approval.comment} "
        "There is nothing to decide.",
    }
    return Conflict(
        messages.get(approval.status, f"This request is {approval.status}."),
        code="approval_not_pending",
        details={"id": approval.pk, "status": approval.status, "decided_by": who, "at": when},
    )


def _close(approval: ApprovalRequest, status: str, *, actor=None, comment: str = "", now) -> None:
    approval.status = status
    approval.decided_by = actor
    approval.decided_at = now
    approval.comment = comment
    clean_or_raise(approval, exclude=["order", "decided_by"], constraints=False)
    approval.save(update_fields=["status", "decided_by", "decided_at", "comment", "recheck"])


def _expire(approval: ApprovalRequest, order: Order, *, now) -> None:
    _close(
        approval, ApprovalStatus.EXPIRED, comment="No decision within its time to live.", now=now
    )
    order = order_status_set(
        order=order, status=OrderStatus.EXPIRED, reason="approval expired", locked=True
    )
    audit_record(
        event_type=EventType.APPROVAL_EXPIRED,
        object_type=OBJECT_TYPE,
        object_id=approval.pk,
        payload={"order_id": order.pk, "expires_at": approval.expires_at},
    )
    _notify_client(approval, order)


def _locked(approval_id: int) -> tuple[ApprovalRequest, Order]:
    """The request with its order, locked in one statement: the order, its account and its
    instrument, then the request.

    The order services lock an order with its account and instrument the same way (cancel,
    status changes): every path that ends a held order takes the same rows in the same order,
    so they queue instead of deadlocking. Holding the account's lock is also the gate's lock:
    no other order of the account is decided during a re-check. The order comes with what its
    re-check, its audit events and its webhook read (submitter, the instrument's underlying).
    """
    try:
        approval = (
            ApprovalRequest.objects.select_for_update(
                of=("order", "order__account", "order__instrument", "self")
            )
            .select_related(
                "order__account",
                "order__instrument__underlying",
                "order__submitted_by",
                "decided_by",
            )
            .get(pk=approval_id)
        )
    except ApprovalRequest.DoesNotExist:
        raise NotFound("No such approval request.", code="approval_not_found") from None
    return approval, approval.order


def _comment_checked(comment) -> str:
    if not isinstance(comment, str) or not comment.strip():
        raise ValidationFailed(details=field_errors(comment="A comment is required."))
    comment = comment.strip()
    if "\x00" in comment:  # PostgreSQL cannot store it; the API's field refuses it too
        raise ValidationFailed(details=field_errors(comment="Null characters are not allowed."))
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            details=field_errors(comment=f"At most {COMMENT_MAX_LENGTH} characters.")
        )
    return comment


def approval_decide(
    *, approval: ApprovalRequest, actor, decision: str, comment: str
) -> ApprovalRequest:
    """Approve (the order becomes accepted) or deny (rejected) a held order.

    A Compliance Officer or above who did not submit the order (four-eyes), with a comment.
    Approving re-checks the hard limits against the state of now: an approval that would breach
    one is refused (409 with the failing checks), recorded, and the request stays pending.
    A request past its time to live is expired here rather than decided, and so is an order
    past its own `expire_at` (its time in force).
    """
    require_role(actor, DECIDER_ROLE, "approve or deny held orders")
    if decision not in tuple(Decision):
        raise ValidationFailed(details=field_errors(decision="Must be approve or deny."))
    comment = _comment_checked(comment)
    refusal = None
    with transaction.atomic():
        locked, order = _locked(approval.pk)
        if order.submitted_by_id == actor.pk:
            raise PermissionDenied(
                "Four-eyes: the order's submitter cannot decide it; another officer must.",
                code="four_eyes_required",
                details={"submitted_by": actor.get_username()},
            )
        if not locked.is_pending:
            raise _not_pending(locked)
        now = utcnow()
        if order.status != OrderStatus.PENDING_APPROVAL:
            # Ended by a path that does not close its request (the back office's cancel).
            _cancel(locked, order, actor=actor, reason="order ended before the decision")
            refusal = _not_pending(locked)
        elif locked.expires_at <= now:
            _expire(locked, order, now=now)
            refusal = _not_pending(locked)
        elif order.expire_at is not None and order.expire_at <= now:
            # Its time in force ran out before the expiry job came by: it expires now, as the
            # job would expire it (its request closes with it), and nothing is released.
            order_expire(order_id=order.pk, now=now)
            locked.refresh_from_db()
            refusal = _not_pending(locked)
        elif decision == Decision.APPROVE:
            failures = recheck_held_order(order=order, user=actor)
            locked.recheck = failures
            if failures:
                refusal = _refuse(locked, order, actor=actor, comment=comment, failures=failures)
            else:
                _decide(
                    locked, order, ApprovalStatus.APPROVED, actor=actor, comment=comment, now=now
                )
        else:
            _decide(locked, order, ApprovalStatus.DENIED, actor=actor, comment=comment, now=now)
    if refusal is not None:  # raised once what it recorded has committed
        raise refusal
    return locked


def _decide(approval, order, status, *, actor, comment, now) -> None:
    _close(approval, status, actor=actor, comment=comment, now=now)
    approved = status == ApprovalStatus.APPROVED
    order = order_status_set(
        order=order,
        status=OrderStatus.ACCEPTED if approved else OrderStatus.REJECTED,
        actor=actor,
        reason=f"approval {status}",
        locked=True,
    )
    audit_record(
        event_type=EventType.APPROVAL_GRANTED if approved else EventType.APPROVAL_DENIED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=approval.pk,
        payload={
            "order_id": order.pk,
            "decision": status,
            "comment": comment,
            "submitted_by": order.submitted_by.get_username() if order.submitted_by else None,
            "rechecked": approved,
        },
    )
    _notify_client(approval, order)


def _refuse(approval, order, *, actor, comment, failures) -> Conflict:
    approval.save(update_fields=["recheck"])
    audit_record(
        event_type=EventType.APPROVAL_REFUSED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=approval.pk,
        payload={"order_id": order.pk, "comment": comment, "failures": failures},
    )
    names = ", ".join(c["rule"] for c in failures)
    return Conflict(
        f"Approving now would breach a hard limit ({names}); the request stays pending.",
        code="approval_breaches_limit",
        details={"id": approval.pk, "checks": failures},
    )


def approval_expire(*, approval_id: int, now=None) -> ApprovalRequest | None:
    """Expire one request if it is still pending and due; None when it is not (any more)."""
    now = now or utcnow()
    with transaction.atomic():
        try:
            locked, order = _locked(approval_id)
        except NotFound:
            return None
        if not locked.is_pending or locked.expires_at > now:
            return None  # decided, canceled or expired meanwhile: the other one won
        if order.status != OrderStatus.PENDING_APPROVAL:
            _cancel(locked, order, reason="order ended before it expired")
        else:
            _expire(locked, order, now=now)
    return locked


def approval_expire_due(*, now=None, limit: int = 1000) -> int:
    """Expire every pending request past its time to live (the beat job); how many."""
    now = now or utcnow()
    due = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=now)
    ids = list(due.order_by("expires_at").values_list("pk", flat=True)[:limit])
    return sum(1 for pk in ids if approval_expire(approval_id=pk, now=now) is not None)


def approval_close_for_order(
    *, order: Order, actor=None, reason: str = ""
) -> ApprovalRequest | None:
    """The held order ended by another path than a decision here (a cancel by the client, the
    kill switch or the back office; a status set by trading): close its request.

    Trading calls it through its `held_order_ended` hook, in the transaction that ends the
    order. Returns None when the order had no pending request (a decision or an expiry here
    closes the request before it moves the order, so this is then a no-op).
    """
    if Order.approval.is_cached(order):
        # The order came with its request (a decision or an expiry here, which closes the
        # request before it moves the order): nothing to read.
        cached = order.approval
        pk = cached.pk if cached is not None and cached.is_pending else None
    else:
        pk = ApprovalRequest.objects.filter(order_id=order.pk, status=ApprovalStatus.PENDING)
        pk = pk.values_list("pk", flat=True).first()
    if pk is None:
        return None
    with transaction.atomic():
        locked, fresh = _locked(pk)
        if not locked.is_pending:
            return None
        _cancel(locked, fresh, actor=actor, reason=reason)
    return locked


def _cancel(approval: ApprovalRequest, order: Order, *, actor=None, reason: str) -> None:
    _close(
        approval, ApprovalStatus.CANCELED, comment=f"Order {order.status} ({reason}).", now=utcnow()
    )
    audit_record(
        event_type=EventType.APPROVAL_CANCELED,
        actor=actor,
        object_type=OBJECT_TYPE,
        object_id=approval.pk,
        payload={"order_id": order.pk, "reason": reason, "order_status": order.status},
    )
    _notify_client(approval, order)
