"""The surveillance pages: the alert list with its filters and the false-positive rates, and one
alert with its evidence, its timeline chart and the case work. Viewers and above read them;
Compliance Officers and above work the case through the services the API calls too."""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from apps.core.errors import PlatformError, ValidationFailed, field_errors
from apps.core.pages import filtered_page
from apps.rbac.access import has_role
from apps.rbac.mixins import RoleRequiredMixin
from apps.surveillance import selectors
from apps.surveillance.chart import timeline_svg
from apps.surveillance.filters import AlertFilter
from apps.surveillance.models import AlertStatus, Detector, Disposition, Severity
from apps.surveillance.services import (
    CASE_ROLE,
    COMMENT_MAX_LENGTH,
    TRANSITIONS,
    alert_assign,
    alert_close,
    alert_comment,
    alert_status_set,
)

PAGE_SIZE = 50
OCCURRENCES_SHOWN = 100
FIELD_LABELS = {
    "assignee": "Assignee",
    "text": "Comment",
    "comment": "Comment",
    "status": "Status",
    "disposition": "Disposition",
    "action": "Action",
}
STATUS_ACTIONS = {
    AlertStatus.OPEN: "Back to open",
    AlertStatus.IN_REVIEW: "In review",
    AlertStatus.ESCALATED: "Escalate",
}


def _problems(exc: PlatformError) -> list[str]:
    if isinstance(exc, ValidationFailed) and exc.details:
        return [
            f"{FIELD_LABELS.get(name, name.capitalize())}: {message}"
            for name, msgs in exc.details.items()
            for message in (msgs if isinstance(msgs, list) else [msgs])
        ]
    return [exc.message]


def _with_percent(row: dict) -> dict:
    if row["rate"] is None:
        return {**row, "percent": None, "bar": 0}
    percent = (row["rate"] * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return {**row, "percent": percent, "bar": int(percent)}


def _readable(details) -> dict:
    """The detector's figures with their names as words ("usual_quantity": "Usual quantity")."""
    if not isinstance(details, dict):
        return {"Details": details}
    return {str(name).replace("_", " ").capitalize(): value for name, value in details.items()}


class AlertListView(RoleRequiredMixin, TemplateView):
    required_role = CASE_ROLE
    template_name = "surveillance/alerts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        everything = selectors.alert_list(user=user).order_by("-created_at", "-id")
        context.update(
            filtered_page(self.request, AlertFilter, everything, PAGE_SIZE),
            detectors=Detector.choices,
            severities=Severity.choices,
            statuses=AlertStatus.choices,
            dispositions=Disposition.choices,
            selected={
                name: self.request.GET.getlist(name) for name in ("detector", "severity", "status")
            },
            assignees=list(selectors.alert_assignees().values_list("username", flat=True)[:200]),
            rates=[_with_percent(row) for row in selectors.false_positive_rates()],
        )
        return context


class AlertDetailView(RoleRequiredMixin, TemplateView):
    """One alert. Compliance Officers and above (no tipping off); each form POSTs here with its
    `action`."""

    required_role = CASE_ROLE
    template_name = "surveillance/alert.html"
    actions = ("assign", "comment", "status", "close")

    def _alert(self):
        alert = selectors.alert_get(user=self.request.user, alert_id=self.kwargs["alert_id"])
        if alert is None:
            raise Http404("No such alert.")
        return alert

    def get_context_data(self, errors=None, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        alert = self._alert()
        timeline = selectors.alert_timeline(alert)
        can_work = has_role(user, CASE_ROLE)
        details = (alert.evidence or {}).get("details") or {}
        occurrences = alert.occurrence_rows.all()
        context.update(
            alert=alert,
            evidence=selectors.alert_evidence(alert),
            details=_readable(details),
            kill_switch=(alert.evidence or {}).get("kill_switch"),
            timeline=timeline,
            chart=timeline_svg(
                timeline,
                window_start=alert.window_start,
                window_end=alert.window_end,
                currency=alert.instrument.currency if alert.instrument else "",
                caption=f"Orders and fills around alert #{alert.pk}",
            ),
            occurrences=list(occurrences.order_by("-seq")[:OCCURRENCES_SHOWN]),
            occurrences_total=occurrences.count(),
            notes=list(alert.notes.select_related("author")),
            can_work=can_work,
            errors=errors or {},
            form=form or {},
            comment_max_length=COMMENT_MAX_LENGTH,
        )
        if can_work:
            context.update(
                assignees=list(selectors.alert_assignees()),
                status_choices=[
                    (s, "Reopen (in review)" if alert.status == AlertStatus.CLOSED else label)
                    for s, label in STATUS_ACTIONS.items()
                    if s in TRANSITIONS[alert.status]
                ],
                dispositions=Disposition.choices,
            )
        return context

    def post(self, request, *args, **kwargs):
        if not has_role(request.user, CASE_ROLE):
            raise PermissionDenied("Only a Compliance Officer or above may work alerts.")
        alert = self._alert()
        form = {
            name: value for name, value in request.POST.items() if name != "csrfmiddlewaretoken"
        }
        action = form.get("action", "")
        try:
            if action not in self.actions:
                raise ValidationFailed(
                    details=field_errors(action=f"One of: {', '.join(self.actions)}.")
                )
            done = getattr(self, f"_{action}")(alert, request.POST)
        except PlatformError as exc:
            return self._again(action, _problems(exc), form, status=exc.status_code)
        messages.success(request, done)
        return HttpResponseRedirect(reverse("surveillance-alert", args=[alert.pk]))

    def _assign(self, alert, data) -> str:
        raw = data.get("assignee", "").strip()
        assignee = None
        if raw:
            pk = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
            assignee = selectors.alert_assignees().filter(pk=pk).first() if pk else None
            if assignee is None:
                raise ValidationFailed(
                    details=field_errors(
                        assignee="Choose an active Compliance Officer (or nobody)."
                    )
                )
        alert_assign(alert=alert, assignee=assignee, actor=self.request.user)
        if assignee is None:
            return f"Alert #{alert.pk} is unassigned."
        return f"Alert #{alert.pk} assigned to {assignee.get_username()}."

    def _comment(self, alert, data) -> str:
        alert_comment(alert=alert, text=data.get("text", ""), actor=self.request.user)
        return "Comment added."

    def _status(self, alert, data) -> str:
        updated = alert_status_set(
            alert=alert,
            status=data.get("status", ""),
            comment=data.get("comment", ""),
            actor=self.request.user,
        )
        return f"Alert #{alert.pk} is now {updated.get_status_display().lower()}."

    def _close(self, alert, data) -> str:
        closed = alert_close(
            alert=alert,
            disposition=data.get("disposition", ""),
            comment=data.get("comment", ""),
            actor=self.request.user,
        )
        return f"Alert #{alert.pk} closed as {closed.get_disposition_display().lower()}."

    def _again(self, action: str, problems: list[str], form: dict, *, status: int):
        context = self.get_context_data(errors={"action": action, "messages": problems}, form=form)
        response = self.render_to_response(context)
        response.status_code = status
        return response
