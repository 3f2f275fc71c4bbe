from datetime import timedelta

from django.conf import settings
from django.db import transaction

from apps.approvals.models import ApprovalRequest
from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.time import utcnow
from apps.trading.models import Order


@transaction.atomic
def approval_request_create(
    *, order: Order, rules: list[dict], ttl_seconds: int | None = None, actor=None
) -> ApprovalRequest:
    now = utcnow()
    ttl = ttl_seconds or settings.APPROVAL_TTL_SECONDS
    request = ApprovalRequest(
        order=order, rules=rules, requested_at=now, expires_at=now + timedelta(seconds=ttl)
    )
    request.full_clean(exclude=["order"])
    request.save()
    audit_record(
        event_type=EventType.APPROVAL_REQUESTED,
        actor=actor,
        object_type="approvals.approvalrequest",
        object_id=request.pk,
        payload={
            "order_id": order.pk,
            "expires_at": request.expires_at,
            "rules": [r["rule"] for r in rules],
        },
    )
    return request
