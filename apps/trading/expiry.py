"""When an order stops working by its time in force: the `expire_at` every order is given when
it is submitted, which the expiry pass (`services.order_expire_due`, the beat job) acts on.

- `day`: the close of the session it works in, on its instrument's exchange calendar
  (`apps.core.calendars.session_close_for_order`; on the round-the-clock "24/7" calendar, the
  end of the UTC day);
- `ioc`, `fok`: the gate's time plus `IOC_GRACE_SECONDS`. They are meant to trade at once, but
  their fills are reported back after the execution, so they are expired only once the fills
  have had time to arrive; what is then still open (all of it, or the rest of a partial fill)
  expires;
- `gtd`: the time the client gave (`expire_at`, required);
- `gtc`: never (None).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.calendars import session_close_for_order
from apps.core.errors import ValidationFailed, field_errors
from apps.core.time import utcnow
from apps.trading.models import TimeInForce

# How each time in force ends, as the expiry's reason in the trail and in refusals.
EXPIRES = {
    TimeInForce.DAY: "at its session's close",
    TimeInForce.IOC: "unfilled after the gate's grace",
    TimeInForce.FOK: "unfilled after the gate's grace",
    TimeInForce.GTD: "at its expire_at",
    TimeInForce.GTC: "never (until canceled)",
}


def expire_at_checked(
    *, time_in_force: str, expire_at: datetime | None, now: datetime | None = None
) -> datetime | None:
    """A `gtd` order names its expiry, a time with its offset in the future; no other time in
    force takes one (a 400 that stores nothing). The order API's serializer and `order_create`
    both call it."""
    if time_in_force != TimeInForce.GTD:
        if expire_at is not None:
            raise ValidationFailed(
                details=field_errors(
                    expire_at=f"Only a gtd order takes expire_at; a {time_in_force} order "
                    f"expires {EXPIRES.get(time_in_force, 'by its time in force')}."
                )
            )
        return None
    if expire_at is None:
        raise ValidationFailed(
            details=field_errors(expire_at="A gtd order needs expire_at (RFC 3339).")
        )
    if not isinstance(expire_at, datetime) or timezone.is_naive(expire_at):
        raise ValidationFailed(details=field_errors(expire_at="A time with its UTC offset."))
    if expire_at <= (now or utcnow()):
        raise ValidationFailed(details=field_errors(expire_at="Must be in the future."))
    return expire_at


def order_expire_at(
    *,
    time_in_force: str,
    calendar: str,
    submitted_at: datetime,
    expire_at: datetime | None = None,
) -> datetime | None:
    """When an order submitted at `submitted_at` (the gate's time) on the exchange calendar
    `calendar` expires if it is still working then; None for gtc."""
    if time_in_force == TimeInForce.DAY:
        return session_close_for_order(calendar, submitted_at)
    if time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        return submitted_at + timedelta(seconds=settings.IOC_GRACE_SECONDS)
    if time_in_force == TimeInForce.GTD:
        return expire_at
    return None
