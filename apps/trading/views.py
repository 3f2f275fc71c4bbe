"""The landing page: what the signed-in user may look at, with the firm's book at a glance."""

from django.db.models import Count, Q
from django.views.generic import TemplateView

from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.models import OrderStatus


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
        recent = list(orders.order_by("-created_at", "-id")[:15])
        for order in recent:
            # The first rule that did not pass, as the one-line reason shown in the table.
            order.reason = next(
                (c["message"] for c in order.checks if c.get("status") in ("fail", "warn")), ""
            )
        context["recent_orders"] = recent
        context["accounts"] = selectors.account_list(user=user)
        context["instrument_count"] = selectors.instrument_list().count()
        return context
