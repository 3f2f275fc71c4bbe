"""The surveillance pages: the alert list with its filters and the false-positive rates, and one
alert with its evidence, its timeline chart and the case work. Viewers and above read them;
Compliance Officers and above work the case through the services the API calls too."""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.core.errors import PlatformError, ValidationFailed, field_errors
from apps.core.lists import Column, DeskList, DeskListMixin
from apps.rbac.access import has_role
from apps.rbac.mixins import RoleRequiredMixin
from apps.surveillance import selectors
from apps.surveillance.chart import timeline_svg
from apps.surveillance.filters import AlertFilter
from apps.surveillance.models import AlertStatus, Detector, Disposition, Severity
from apps.surveillance.services import (
    BULK_MAX,
    CASE_ROLE,
    COMMENT_MAX_LENGTH,
    TRANSITIONS,
    alert_assign,
    alert_close,
    alert_closure_reject,
    alert_comment,
    alert_needs_four_eyes,
    alert_status_set,
    alerts_bulk_assign,
    alerts_bulk_close,
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


ALERT_LIST = DeskList(
    name="surveillance-alerts",
    object_type="surveillance.alert",
    columns=[
        Column("raised", "Raised (UTC)", lambda a: a.created_at, "created_at"),
        Column("severity", "Severity", lambda a: a.get_severity_display(), "severity"),
        Column("alert", "Alert", lambda a: f"#{a.pk} {a.get_detector_display()}", "detector"),
        Column(
            "account", "Account", lambda a: a.account.code if a.account else "", "account__code"
        ),
        Column(
            "instrument",
            "Instrument",
            lambda a: a.instrument.symbol if a.instrument else "",
            "instrument__symbol",
        ),
        Column("score", "Score", lambda a: a.score, "score"),
        Column("status", "Status", lambda a: a.get_status_display(), "status"),
        Column(
            "assignee",
            "Assignee",
            lambda a: a.assignee.get_username() if a.assignee else "",
            "assignee__username",
        ),
        Column("due", "Due", lambda a: a.due_date, "due_date"),
        Column("id", "Id", lambda a: a.pk, shown=False),
        Column("title", "Title", lambda a: a.title, shown=False),
        Column("disposition", "Disposition", lambda a: a.get_disposition_display(), shown=False),
        Column(
            "closure_proposed_by",
            "Closure proposed by",
            lambda a: a.closure_proposed_by.get_username() if a.closure_proposed_by else "",
            shown=False,
        ),
        Column("closed_at", "Closed (UTC)", lambda a: a.closed_at, shown=False),
    ],
    search_fields=[
        "title",
        "detector",
        "account__code",
        "account__name",
        "instrument__symbol",
        "assignee__username",
    ],
    date_field="created_at",
    default_sort="-raised",
)


class AlertListView(RoleRequiredMixin, DeskListMixin, TemplateView):
    required_role = CASE_ROLE
    template_name = "surveillance/alerts.html"
    desk_list = ALERT_LIST
    page_size = PAGE_SIZE

    def desk_rows(self):
        everything = selectors.alert_list(user=self.request.user).select_related(
            "closure_proposed_by"
        )
        self.filters = AlertFilter(self.desk_params(), queryset=everything)
        if not self.filters.is_valid():
            self.desk_problems.extend(
                f"{name}: {' '.join(errs)}" for name, errs in self.filters.errors.items()
            )
            return everything.none()
        return self.filters.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            filters=self.filters,
            detectors=Detector.choices,
            severities=Severity.choices,
            statuses=AlertStatus.choices,
            dispositions=Disposition.choices,
            selected={
                name: self.request.GET.getlist(name) for name in ("detector", "severity", "status")
            },
            assignees=list(selectors.alert_assignees().values_list("username", flat=True)[:200]),
            assignee_choices=list(selectors.alert_assignees()),
            rates=[_with_percent(row) for row in selectors.false_positive_rates()],
            bulk_max=BULK_MAX,
        )
        return context


class AlertBulkView(RoleRequiredMixin, View):
    """POST only: assign or close the selected alerts, then back to the list as it was
    filtered. Bad input is the list again with the problem (400), and nothing changes."""

    required_role = CASE_ROLE
    http_method_names = ["post"]

    def post(self, request):
        data = request.POST
        back = reverse("surveillance-alerts") + _safe_query(data.get("next", ""))
        action = data.get("bulk_action", "")
        try:
            alerts = self._alerts(data.getlist("alert"))
            if action == "assign":
                text = self._assign(alerts, data.get("assignee", "").strip())
            elif action == "close":
                text = self._close(alerts, data.get("disposition", ""), data.get("comment", ""))
            else:
                raise ValidationFailed(details=field_errors(bulk_action="One of: assign, close."))
        except PlatformError as exc:
            messages.error(request, "Nothing changed. " + " ".join(_problems(exc)))
            return _bad_request_page(request, back, exc)
        messages.success(request, text)
        return HttpResponseRedirect(back)

    def _alerts(self, raw: list[str]) -> list:
        ids = []
        for value in raw:
            if not (value.isascii() and value.isdigit() and len(value) <= 18):
                raise ValidationFailed(details=field_errors(alerts="Unknown alert selected."))
            ids.append(int(value))
        if not ids:
            raise ValidationFailed(details=field_errors(alerts="Select at least one alert."))
        if len(ids) > BULK_MAX:
            raise ValidationFailed(details=field_errors(alerts=f"At most {BULK_MAX} at once."))
        found = list(selectors.alert_list(user=self.request.user).filter(pk__in=ids).order_by("pk"))
        if len(found) != len(set(ids)):
            raise ValidationFailed(details=field_errors(alerts="Unknown alert selected."))
        return found

    def _assign(self, alerts, raw: str) -> str:
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
        alerts_bulk_assign(alerts=alerts, assignee=assignee, actor=self.request.user)
        who = assignee.get_username() if assignee else "nobody"
        return f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} assigned to {who}."

    def _close(self, alerts, disposition: str, comment: str) -> str:
        done = alerts_bulk_close(
            alerts=alerts, disposition=disposition, comment=comment, actor=self.request.user
        )
        parts = [f"{len(done['closed'])} closed"]
        if done["proposed"]:
            ids = ", ".join(f"#{a.pk}" for a in done["proposed"])
            parts.append(
                f"{len(done['proposed'])} critical proposed for closure ({ids}): a second "
                "Compliance Officer confirms"
            )
        if done["skipped"]:
            ids = ", ".join(f"#{a.pk}" for a in done["skipped"])
            parts.append(
                f"{len(done['skipped'])} skipped ({ids}: closed already, or your own proposal)"
            )
        return "; ".join(parts) + "."


def _safe_query(raw: str) -> str:
    """The list's filters to go back to: a query string only, never another address."""
    raw = raw.lstrip("?")
    if not raw or any(c in raw for c in "\r\n/") or len(raw) > 2000:
        return ""
    return "?" + raw


def _bad_request_page(request, back: str, exc: PlatformError):
    """The list again (its filters from `back`), the problem on top, with the error's status."""
    from django.http import QueryDict

    view = AlertListView()
    query = back.split("?", 1)[1] if "?" in back else ""
    get_request = request
    get_request.GET = QueryDict(query)
    view.setup(get_request)
    response = view.get(get_request)
    response.status_code = exc.status_code
    return response


class AlertDetailView(RoleRequiredMixin, TemplateView):
    """One alert. Compliance Officers and above (no tipping off); each form POSTs here with its
    `action`."""

    required_role = CASE_ROLE
    template_name = "surveillance/alert.html"
    actions = ("assign", "comment", "status", "close", "reject_closure")

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
            four_eyes=alert_needs_four_eyes(alert),
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
        if closed.status != AlertStatus.CLOSED:
            return (
                f"Closure of alert #{alert.pk} as "
                f"{closed.get_closure_disposition_display().lower()} proposed: a second "
                "Compliance Officer confirms it."
            )
        return f"Alert #{alert.pk} closed as {closed.get_disposition_display().lower()}."

    def _reject_closure(self, alert, data) -> str:
        alert_closure_reject(alert=alert, comment=data.get("comment", ""), actor=self.request.user)
        return f"The proposed closure of alert #{alert.pk} was rejected; it stays open."

    def _again(self, action: str, problems: list[str], form: dict, *, status: int):
        context = self.get_context_data(errors={"action": action, "messages": problems}, form=form)
        response = self.render_to_response(context)
        response.status_code = status
        return response
