"""The landing page: what the signed-in user may look at, with the firm's book at a glance."""

from django.db.models import Count, Q
from django.views.generic import TemplateView

from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.models import OrderStatus


def _submission_decision(order) -> str:
    """What the gate answered when the order came in (a status, for the badge's colour): held
    when an approval request exists, rejected when it was rejected without one, else accepted.
    The order's status says what happened since (approved and filled, denied, expired)."""
    if getattr(order, "approval", None) is not None:
        return OrderStatus.PENDING_APPROVAL
    if order.status == OrderStatus.REJECTED:
        return OrderStatus.REJECTED
    return OrderStatus.ACCEPTED


class DashboardView(RoleRequiredMixin, TemplateView):
    required_role = Role.VIEWER
    template_name = "trading/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        context = super().get_context_data(**kwargs)
        orders = selectors.order_list(user=user)
        context["order_counts"] = orders.aggregate(
            total=Count("id"),
            working=Count(
                "id", filter=Q(status__in=[OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED])
            ),
            pending=Count("id", filter=Q(status=OrderStatus.PENDING_APPROVAL)),
            rejected=Count("id", filter=Q(status=OrderStatus.REJECTED)),
        )
        context["positions"] = selectors.position_list(user=user).exclude(quantity=0)[:50]
        # The approval request rides along (a reverse one-to-one, read by name: trading does not
        # import the approvals app) to tell what the gate decided from what happened since.
        recent = list(orders.select_related("approval").order_by("-created_at", "-id")[:15])
        for order in recent:
            order.submission_decision = _submission_decision(order)
            # The first rule that did not pass, as the one-line reason shown in the table.
            order.reason = next(
                (c["message"] for c in order.checks if c.get("status") in ("fail", "warn")), ""
            )
        context["recent_orders"] = recent
        context["accounts"] = selectors.account_list(user=user)
        context["instrument_count"] = selectors.instrument_list().count()
        return context
