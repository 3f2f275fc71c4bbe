"""The kill switch (SEC 15c3-5; MiFID II RTS 6 art. 12): stop new orders firm-wide, for one
account or for one instrument, at once, with a record of the book at that moment.

The gate (`apps.killswitch.check.kill_switch_check`) reads the active switches on every order, so
an activation takes effect for the next order after it commits. Deactivating needs a second Risk
Manager (four-eyes, MiFID II RTS 6 art. 15(3)).
"""

from typing import Any

from django.db import transaction
from django.db.models import Q

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.core.time import rfc3339, utcnow
from apps.core.types import decimal_str
from apps.core.validation import clean_or_raise
from apps.killswitch.models import KillSwitch, KillSwitchScope, KillSwitchState
from apps.killswitch.selectors import active_switches_forget
from apps.rbac.access import has_role, require_role
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.models import WORKING_STATUSES, Account, Order, Position
from apps.trading.services import order_cancel

REASON_MAX_LENGTH = 500
COMMENT_MAX_LENGTH = 500
CANCEL_REASON = "kill switch"
OPERATOR_ROLE = Role.RISK_MANAGER
# The audit trail names the switch as it did when the kill switch lived in the rules app, so
# that one switch reads the same across the trail, before and after the move.
AUDIT_OBJECT_TYPE = "rules.killswitch"


def kill_switch_may_operate(user) -> bool:
    """Whether `user` may activate and deactivate switches (what the services below require);
    the page and the admin ask here before offering the controls."""
    return has_role(user, OPERATOR_ROLE)


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _validated_target(scope: str, target: str) -> tuple[str, str | None]:
    """The stored target (an account code or a symbol) and an error message, if any."""
    if scope == KillSwitchScope.FIRM:
        if target:
            return "", "A firm-wide switch has no target; leave it empty."
        return "", None
    if not target:
        what = "an account code" if scope == KillSwitchScope.ACCOUNT else "an instrument symbol"
        return "", f"Required for the {scope} scope: give {what}."
    # As typed, else in capitals ("aapl" is AAPL); stored as the reference data spells it.
    if scope == KillSwitchScope.ACCOUNT:
        account = selectors.account_get_by_code(target) or selectors.account_get_by_code(
            target.upper()
        )
        if account is None:
            return target, "Unknown account."
        return account.code, None
    # The gate matches on the symbol: an ISIN is accepted and stored as its symbol.
    instrument = selectors.instrument_get_by_symbol_or_isin(
        target
    ) or selectors.instrument_get_by_symbol_or_isin(target.upper())
    if instrument is None:
        return target, "Unknown instrument (give a symbol or an ISIN)."
    return instrument.symbol, None


def _in_scope(scope: str, target: str) -> Q:
    if scope == KillSwitchScope.ACCOUNT:
        return Q(account__code=target)
    if scope == KillSwitchScope.INSTRUMENT:
        return Q(instrument__symbol=target)
    return Q()


def _lock_accounts(scope: str, target: str) -> None:
    """Take the accounts' locks that the gate takes per order: an order being decided now
    either commits before the snapshot reads it, or waits and then sees the switch."""
    accounts = Account.objects.order_by("pk")
    if scope == KillSwitchScope.ACCOUNT:
        accounts = accounts.filter(code=target)
    list(accounts.select_for_update().values_list("pk", flat=True))


def kill_switch_snapshot(*, scope: str, target: str = "") -> dict[str, Any]:
    """Open positions and working orders in scope, amounts as decimal strings."""
    where = _in_scope(scope, target)
    positions = (
        Position.objects.filter(where)
        .exclude(quantity=0)
        .order_by("account__code", "instrument__symbol")
        .values_list("account__code", "instrument__symbol", "quantity", "average_cost")
    )
    orders = (
        Order.objects.filter(where, status__in=WORKING_STATUSES)
        .order_by("id")
        .values_list(
            "id",
            "account__code",
            "instrument__symbol",
            "side",
            "quantity",
            "filled_quantity",
            "status",
        )
    )
    return {
        "taken_at": rfc3339(utcnow()),
        "positions": [
            {
                "account": account,
                "instrument": symbol,
                "quantity": decimal_str(quantity),
                "average_cost": decimal_str(average_cost),
            }
            for account, symbol, quantity, average_cost in positions
        ],
        "working_orders": [
            {
                "id": pk,
                "account": account,
                "instrument": symbol,
                "side": side,
                "remaining_quantity": decimal_str(quantity - filled),
                "status": status,
            }
            for pk, account, symbol, side, quantity, filled, status in orders
        ],
    }


def kill_switch_activation_clean(
    *, scope: str, target: str | None, state: str, reason: str
) -> tuple[str, str]:
    """The stored target and reason of an activation, or ValidationFailed with every problem.

    Activation runs it first; the page runs it alone to show what would be stopped before the
    officer confirms."""
    errors: dict[str, list[str]] = {}
    target = target.strip() if isinstance(target, str) else ""
    reason = reason.strip() if isinstance(reason, str) else ""
    if scope not in KillSwitchScope.values:
        errors["scope"] = [f"Must be one of: {', '.join(KillSwitchScope.values)}."]
    if state not in KillSwitchState.values:
        errors["state"] = [f"Must be one of: {', '.join(KillSwitchState.values)}."]
    if not reason:
        errors["reason"] = ["Say why trading is stopped."]
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [f"At most {REASON_MAX_LENGTH} characters."]
    if "scope" not in errors:
        target, problem = _validated_target(scope, target)
        if problem:
            errors["target"] = [problem]
    if errors:
        raise ValidationFailed(details=errors)
    return target, reason


@transaction.atomic
def kill_switch_activate(
    *,
    scope: str,
    target: str | None,
    state: str,
    reason: str,
    actor,
    cancel_working: bool = False,
    control: str = "",
    source: dict[str, Any] | None = None,
) -> KillSwitch:
    """Halt (or allow only reducing orders) in a scope, from the next order on.

    Records the open positions and working orders in scope; with `cancel_working`, cancels
    those working orders too (each through `order_cancel`, each audited). An automated control
    (surveillance) passes its name as `control` instead of an actor, and what triggered it as
    `source` (an alert, say), which the audit event keeps.
    """
    if control:
        actor = None
    else:
        require_role(actor, OPERATOR_ROLE, "activate the kill switch")
    target, reason = kill_switch_activation_clean(
        scope=scope, target=target, state=state, reason=reason
    )

    _lock_accounts(scope, target)
    snapshot = kill_switch_snapshot(scope=scope, target=target)
    switch = KillSwitch(
        scope=scope,
        target=target,
        state=state,
        reason=reason,
        is_active=True,
        activated_by=actor,
        activated_by_system=control,
        activated_at=utcnow(),
        snapshot=snapshot,
    )
    clean_or_raise(switch)
    switch.save()

    not_canceled: list[int] = []
    if cancel_working:
        ids = [o["id"] for o in snapshot["working_orders"]]
        for order in Order.objects.filter(pk__in=ids).order_by("id"):
            try:
                order_cancel(
                    order=order,
                    actor=actor or control,
                    reason=CANCEL_REASON,
                    count_message=False,  # the firm's control, not a message of the client
                )
            except Conflict:
                # Filled or ended since the snapshot (fills take no account lock): the halt
                # itself must not fail for that.
                not_canceled.append(order.pk)
        switch.canceled_orders = len(ids) - len(not_canceled)
        switch.save(update_fields=["canceled_orders"])

    audit_record(
        event_type=EventType.KILL_SWITCH_ACTIVATED,
        actor=actor or control,
        object_type=AUDIT_OBJECT_TYPE,
        object_id=switch.pk,
        payload={
            "scope": switch.scope,
            "target": switch.target,
            "state": switch.state,
            "reason": switch.reason,
            "snapshot": {
                "taken_at": snapshot["taken_at"],
                "positions": len(snapshot["positions"]),
                "working_orders": len(snapshot["working_orders"]),
            },
            "cancel_working": bool(cancel_working),
            "canceled_orders": switch.canceled_orders,
            "not_canceled": not_canceled[:100],
            **({"source": source} if source else {}),
        },
    )
    active_switches_forget()
    return switch


@transaction.atomic
def kill_switch_deactivate(
    *,
    switch: KillSwitch,
    actor,
    reason: str = "",
    comment: str = "",
    require_reason: bool = False,
) -> KillSwitch:
    """Let orders through again. Needs a Risk Manager other than the one who activated it.

    `reason` says why trading may resume; it is kept on the switch (the page's history shows it)
    and in the audit event. `comment` is its older name, still accepted from API clients. The
    page requires a reason (`require_reason`); the API does not, because its documented body
    for a deactivation is empty and existing clients send none (docs/kill-switch.md).
    """
    require_role(actor, OPERATOR_ROLE, "deactivate the kill switch")
    reason = (reason or "").strip() or (comment or "").strip()
    if require_reason and not reason:
        raise ValidationFailed(details={"reason": ["Say why trading may resume."]})
    if "\x00" in reason:  # PostgreSQL cannot store it (the page's field is raw text)
        raise ValidationFailed(details={"reason": ["Must not contain NUL characters."]})
    if len(reason) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(details={"reason": [f"At most {COMMENT_MAX_LENGTH} characters."]})
    # Locked: of two deactivations at once, the second sees the first and gets a 409.
    locked = (
        KillSwitch.objects.select_for_update(of=("self",))
        .select_related("activated_by", "deactivated_by")
        .filter(pk=switch.pk)
        .first()
    )
    if locked is None:
        raise NotFound("No such kill switch.", code="kill_switch_not_found")
    if not locked.is_active:
        raise Conflict(
            "This kill switch is already inactive.",
            code="kill_switch_inactive",
            details={"id": locked.pk, "deactivated_by": _username(locked.deactivated_by)},
        )
    if locked.activated_by_id == actor.pk:
        raise PermissionDenied(
            "Four-eyes: a kill switch must be deactivated by a different Risk Manager than the "
            "one who activated it (MiFID II RTS 6 art. 15(3)).",
            code="four_eyes_required",
            details={"activated_by": locked.activator},
        )
    now = utcnow()
    locked.is_active = False
    locked.deactivated_by = actor
    locked.deactivated_at = now
    locked.lift_reason = reason
    clean_or_raise(locked)
    locked.save(update_fields=["is_active", "deactivated_by", "deactivated_at", "lift_reason"])
    audit_record(
        event_type=EventType.KILL_SWITCH_DEACTIVATED,
        actor=actor,
        object_type=AUDIT_OBJECT_TYPE,
        object_id=locked.pk,
        payload={
            "scope": locked.scope,
            "target": locked.target,
            "state": locked.state,
            "reason": locked.reason,
            "activated_by": locked.activator,
            "activated_at": locked.activated_at,
            "active_seconds": int((now - locked.activated_at).total_seconds()),
            "lift_reason": reason,
            # The field's name before the lift reason had its own: readers of older events
            # find the same text under the same key.
            "comment": reason,
        },
    )
    active_switches_forget()
    return locked
