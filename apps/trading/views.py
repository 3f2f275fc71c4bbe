"""The landing page: what the signed-in user may look at, with the firm's book at a glance."""

from django.db.models import Count, Q
from django.views.generic import TemplateView

from apps.core.lists import Column, DeskList, DeskListMixin
from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role
from apps.trading import selectors
from apps.trading.filters import OrderFilter
from apps.trading.models import OrderStatus

SUBMISSION_LABELS = {
    OrderStatus.ACCEPTED: "Accepted",
    OrderStatus.REJECTED: "Rejected",
    OrderStatus.PENDING_APPROVAL: "Held for approval",
}


def _submission_decision(order) -> OrderStatus:
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


def _price(order) -> str:
    return f"{order.limit_price.normalize():f}" if order.limit_price is not None else "market"


ORDER_LIST = DeskList(
    name="orders",
    object_type="trading.order",
    columns=[
        Column("created", "Time (UTC)", lambda o: o.created_at, "created_at"),
        Column("id", "Order", lambda o: o.pk, "pk"),
        Column("account", "Account", lambda o: o.account.code, "account__code"),
        Column("instrument", "Instrument", lambda o: o.instrument.symbol, "instrument__symbol"),
        Column("side", "Side", lambda o: o.get_side_display(), "side"),
        Column("quantity", "Quantity", lambda o: o.quantity, "quantity"),
        Column("price", "Limit", _price, "limit_price"),
        Column(
            "decision",
            "Decision at submission",
            lambda o: SUBMISSION_LABELS[_submission_decision(o)],
        ),
        Column("status", "Status now", lambda o: o.get_status_display(), "status"),
        Column("filled", "Filled", lambda o: o.filled_quantity, shown=False),
        Column("client_order_id", "Client order id", lambda o: o.client_order_id, shown=False),
        Column(
            "submitted_by",
            "Submitted by",
            lambda o: o.submitted_by.get_username() if o.submitted_by else "",
            shown=False,
        ),
    ],
    search_fields=[
        "account__code",
        "instrument__symbol",
        "client_order_id",
        "submitted_by__username",
        "status",
        "side",
    ],
    date_field="created_at",
    default_sort="-created",
)


class OrderListView(RoleRequiredMixin, DeskListMixin, TemplateView):
    """Every order of the accounts the user may see, filtered, sorted and exported as the
    other desk lists are."""

    required_role = Role.VIEWER
    template_name = "trading/orders.html"
    desk_list = ORDER_LIST

    def desk_rows(self):
        rows = selectors.order_list(user=self.request.user).select_related("approval")
        self.filters = OrderFilter(self.desk_params(), queryset=rows)
        if not self.filters.is_valid():
            self.desk_problems.extend(
                f"{name}: {' '.join(errs)}" for name, errs in self.filters.errors.items()
            )
            return rows.none()
        return self.filters.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for order in context["page"].object_list:
            order.submission_decision = _submission_decision(order)
            order.submission_label = SUBMISSION_LABELS[order.submission_decision]
        context.update(
            filters=self.filters,
            statuses=OrderStatus.choices,
            selected_statuses=self.request.GET.getlist("status"),
        )
        return context
