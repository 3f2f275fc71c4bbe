"""The approval queue pages: the live queue, one request with everything needed to decide it,
and the history. Compliance Officers and above; decisions go through `approval_decide`, the
service the API calls too."""

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from apps.approvals import hooks, selectors
from apps.approvals.filters import ApprovalFilter
from apps.approvals.models import ApprovalStatus
from apps.approvals.services import COMMENT_MAX_LENGTH, DECIDER_ROLE, approval_decide
from apps.core.errors import PlatformError, ValidationFailed
from apps.core.lists import Column, DeskList, DeskListMixin
from apps.core.time import utcnow
from apps.rbac.mixins import RoleRequiredMixin
from apps.trading import selectors as trading_selectors
from apps.trading.pricing import notional, order_valuation_price

HISTORY_PAGE_SIZE = 50
POLL_SECONDS = 3


def _notional(order) -> Decimal | None:
    """What the order is worth in its instrument's currency (multiplier included)."""
    price = order_valuation_price(order)
    return notional(order.quantity, price, order.instrument.multiplier) if price else None


def _seconds_left(approval, now) -> int:
    return max(0, int((approval.expires_at - now).total_seconds()))


class ApprovalQueueRowsView(RoleRequiredMixin, TemplateView):
    """The queue's table alone: the queue page polls it (htmx) and swaps it in."""

    required_role = DECIDER_ROLE
    template_name = "approvals/_queue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = utcnow()
        pending = list(selectors.approval_pending(user=self.request.user))
        for approval in pending:
            approval.seconds_left = _seconds_left(approval, now)
            approval.is_new = (now - approval.requested_at).total_seconds() < 30
            approval.notional = _notional(approval.order)
        context.update(pending=pending, poll_seconds=POLL_SECONDS)
        return context


class ApprovalQueueView(ApprovalQueueRowsView):
    """The queue page: the table above, with the tabs, and polling for fresh rows."""

    template_name = "approvals/queue.html"
    extra_context = {"tab": "queue"}


class ApprovalDetailView(RoleRequiredMixin, TemplateView):
    required_role = DECIDER_ROLE
    template_name = "approvals/detail.html"

    def _approval(self):
        approval = selectors.approval_get(user=self.request.user, approval_id=self.kwargs["pk"])
        if approval is None:
            raise Http404("No such approval request.")
        return approval

    def get_context_data(self, errors=None, comment="", **kwargs):
        context = super().get_context_data(**kwargs)
        approval = self._approval()
        order = approval.order
        context.update(
            approval=approval,
            order=order,
            tab="queue" if approval.is_pending else "history",
            notional=_notional(order),
            seconds_left=_seconds_left(approval, utcnow()),
            position=selectors.position_figures(order),
            limits=selectors.limit_usage(order.checks),
            surveillance_alerts=hooks.account_open_alerts(order=order, user=self.request.user),
            gate_history=selectors.account_recent_alerts(order),
            history=selectors.decision_history(approval),
            is_submitter=order.submitted_by_id == self.request.user.pk,
            errors=errors or [],
            comment=comment,
            comment_max_length=COMMENT_MAX_LENGTH,
        )
        return context

    def post(self, request, *args, **kwargs):
        approval = self._approval()
        decision = request.POST.get("decision", "")
        comment = request.POST.get("comment", "")
        try:
            decided = approval_decide(
                approval=approval, actor=request.user, decision=decision, comment=comment
            )
        except ValidationFailed as exc:
            problems = [str(m) for msgs in exc.details.values() for m in msgs] or [exc.message]
            return self._again(problems, comment, status=400)
        except PlatformError as exc:
            return self._again([exc.message], comment, status=exc.status_code)
        word = "approved" if decided.status == ApprovalStatus.APPROVED else "denied"
        messages.success(request, f"Order #{decided.order_id} {word}.")
        return HttpResponseRedirect(reverse("approvals-queue"))

    def _again(self, errors: list[str], comment: str, *, status: int):
        response = self.render_to_response(self.get_context_data(errors=errors, comment=comment))
        response.status_code = status
        return response


APPROVAL_HISTORY = DeskList(
    name="approval-history",
    object_type="approvals.approvalrequest",
    columns=[
        Column("requested", "Requested (UTC)", lambda a: a.requested_at, "requested_at"),
        Column(
            "order",
            "Order",
            lambda a: (
                f"#{a.order_id} {a.order.get_side_display().lower()} "
                f"{a.order.quantity.normalize():f} {a.order.instrument.symbol}"
            ),
            "order_id",
        ),
        Column("account", "Account", lambda a: a.order.account.code, "order__account__code"),
        Column("outcome", "Outcome", lambda a: a.get_status_display(), "status"),
        Column(
            "decided",
            "Decided (UTC)",
            lambda a: a.decided_by.get_username() if a.decided_by else "the platform",
            "decided_at",
        ),
        Column("comment", "Comment", lambda a: a.comment),
        Column("decided_at", "Decided at (UTC)", lambda a: a.decided_at, shown=False),
        Column(
            "submitted_by",
            "Submitted by",
            lambda a: a.order.submitted_by.get_username() if a.order.submitted_by else "",
            shown=False,
        ),
        Column(
            "client_order_id", "Client order id", lambda a: a.order.client_order_id, shown=False
        ),
    ],
    search_fields=[
        "order__account__code",
        "order__instrument__symbol",
        "order__client_order_id",
        "order__submitted_by__username",
        "decided_by__username",
        "comment",
    ],
    date_field="requested_at",
    default_sort="-decided",
)


class ApprovalHistoryView(RoleRequiredMixin, DeskListMixin, TemplateView):
    required_role = DECIDER_ROLE
    template_name = "approvals/history.html"
    desk_list = APPROVAL_HISTORY
    page_size = HISTORY_PAGE_SIZE

    def desk_rows(self):
        rows = selectors.approval_history(user=self.request.user)
        self.filters = ApprovalFilter(self.desk_params(), queryset=rows)
        if not self.filters.is_valid():
            self.desk_problems.extend(
                f"{name}: {' '.join(errs)}" for name, errs in self.filters.errors.items()
            )
            return rows.none()
        return self.filters.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            filters=self.filters,
            tab="history",
            statuses=[c for c in ApprovalStatus.choices if c[0] != ApprovalStatus.PENDING],
            selected_statuses=self.request.GET.getlist("status"),
            account_codes=list(
                trading_selectors.account_list(user=user).values_list("code", flat=True)[:500]
            ),
        )
        return context
