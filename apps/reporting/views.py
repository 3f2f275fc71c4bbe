"""The reports page: the list with its filters, the generate-now form (Compliance Officers),
the MiFIR T+1 deadlines, and downloads that re-check each file's SHA-256 before serving it. A
report's own page shows its transaction lines and the regulator's feedback, and takes filing
steps and feedback files (Compliance Officers). Everything goes through the services the API
calls too."""

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.core.errors import PlatformError, ValidationFailed
from apps.core.pages import filtered_page
from apps.core.time import utcnow
from apps.rbac.access import has_role
from apps.rbac.mixins import RoleRequiredMixin
from apps.reporting import selectors
from apps.reporting.apis import report_file_response
from apps.reporting.builders import BUILDERS
from apps.reporting.filters import ReportFilter
from apps.reporting.jurisdictions import (
    REPORTS_BY_JURISDICTION,
    US_SECURITIES,
    entity_jurisdiction,
)
from apps.reporting.lifecycle import deadlines
from apps.reporting.models import ReportFormat, ReportStatus, ReportType
from apps.reporting.services import (
    GENERATOR_ROLE,
    READER_ROLE,
    TRANSITIONS,
    report_download_open,
    report_feedback_import,
    report_generate,
    report_status_set,
)
from apps.rules.models import RegulatoryEntity

PAGE_SIZE = 50


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(details={field: ["A date (YYYY-MM-DD)."]}) from None


def _report_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Each report type with the formats it comes in, as the form's "type:format" options."""
    labels = dict(ReportFormat.choices)
    return [
        (value, label, [(f"{value}:{f}", labels[f]) for f in BUILDERS[value].formats])
        for value, label in ReportType.choices
        if value in BUILDERS
    ]


def _entity_choices() -> list[tuple[str, str]]:
    """Each regulator with the reports of its jurisdiction (empty: internal reports only)."""
    return [
        (entity.code, ", ".join(REPORTS_BY_JURISDICTION.get(entity_jurisdiction(entity), ())))
        for entity in RegulatoryEntity.objects.all()
    ]


class ReportListView(RoleRequiredMixin, TemplateView):
    required_role = READER_ROLE
    template_name = "reporting/list.html"

    def get_context_data(self, errors=None, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        everything = selectors.report_list(user=user)
        default_day = selectors.last_trading_day(today=utcnow().date())
        context.update(
            filtered_page(self.request, ReportFilter, everything, PAGE_SIZE),
            report_types=[
                (value, label)
                for value, label in ReportType.choices
                if value not in selectors.CONFIDENTIAL_TYPES
                or has_role(user, selectors.CONFIDENTIAL_ROLE)
            ],
            report_formats=ReportFormat.choices,
            statuses=ReportStatus.choices,
            formats_by_type={t: list(b.formats) for t, b in BUILDERS.items()},
            report_choices=_report_choices(),
            entity_choices=_entity_choices(),
            us_reports=REPORTS_BY_JURISDICTION[US_SECURITIES],
            can_generate=has_role(user, GENERATOR_ROLE),
            mifir_days=deadlines(today=utcnow().date()),
            firm_calendar=settings.FIRM_REPORTING_CALENDAR,
            errors=errors or [],
            form=form
            if form
            else {
                "report": f"{ReportType.DAILY_TRADING}:{ReportFormat.CSV}",
                "period_start": default_day.isoformat(),
                "period_end": default_day.isoformat(),
                "regulatory_entity": "",
            },
        )
        return context

    def post(self, request, *args, **kwargs):
        if not has_role(request.user, GENERATOR_ROLE):
            raise DjangoPermissionDenied("Only a Compliance Officer or above may generate reports.")
        form = {
            name: request.POST.get(name, "").strip()
            for name in (
                "report",
                "report_type",
                "format",
                "period_start",
                "period_end",
                "regulatory_entity",
                "symbol",
                "request_reference",
            )
        }
        if form["report"]:  # the form's "type:format" pair
            form["report_type"], _, form["format"] = form["report"].partition(":")
        else:
            form["report"] = f"{form['report_type']}:{form['format']}"
        try:
            if any("\x00" in value for value in form.values()):  # PostgreSQL cannot take it
                raise ValidationFailed(details={"form": ["Null characters are not allowed."]})
            entity = None
            if form["regulatory_entity"]:
                entity = RegulatoryEntity.objects.filter(code=form["regulatory_entity"]).first()
                if entity is None:
                    raise ValidationFailed(details={"regulatory_entity": ["No such entity."]})
            report = report_generate(
                report_type=form["report_type"],
                period_start=_date(form["period_start"], "period_start"),
                period_end=_date(form["period_end"], "period_end"),
                fmt=form["format"],
                entity=entity,
                actor=request.user,
                parameters={
                    name: form[name] for name in ("symbol", "request_reference") if form[name]
                },
            )
        except ValidationFailed as exc:
            problems = [f"{k}: {' '.join(map(str, v))}" for k, v in exc.details.items()]
            if exc.code != ValidationFailed.code:  # a refusal with its own reason (MiFIR checks)
                problems = [exc.message, *problems]
            return self._again(problems or [exc.message], form, status=400)
        except PlatformError as exc:
            return self._again([exc.message], form, status=exc.status_code)
        messages.success(
            request, f"Generated {report} · {report.record_count} records · SHA-256 {report.sha256}"
        )
        return HttpResponseRedirect(f"{reverse('reports-list')}?highlight={report.pk}")

    def _again(self, errors: list[str], form: dict, *, status: int):
        response = self.render_to_response(self.get_context_data(errors=errors, form=form))
        response.status_code = status
        return response


class ReportDownloadView(RoleRequiredMixin, View):
    required_role = READER_ROLE

    def get(self, request, pk: int):
        report = selectors.report_get(user=request.user, report_id=pk)
        if report is None:
            raise Http404("No such report.")
        try:
            handle = report_download_open(report=report, actor=request.user)
        except PlatformError as exc:  # the file no longer matches its hash: refused, alerted
            page = ReportListView()
            page.setup(request)
            return page._again([exc.message], {}, status=exc.status_code)
        return report_file_response(report, handle)


LINES_SHOWN = 500


class ReportDetailView(RoleRequiredMixin, TemplateView):
    """One report: its filing status, its transaction lines with the regulator's feedback (a
    MiFIR report), the feedback files imported; the filing-step and feedback forms."""

    required_role = READER_ROLE
    template_name = "reporting/detail.html"

    def _report(self):
        report = selectors.report_get(user=self.request.user, report_id=self.kwargs["pk"])
        if report is None:
            raise Http404("No such report.")
        return report

    def get_context_data(self, errors=None, **kwargs):
        context = super().get_context_data(**kwargs)
        report = self._report()
        lines = report.transactions.order_by("id")
        context.update(
            report=report,
            lines=list(lines[:LINES_SHOWN]),
            line_count=lines.count(),
            rejected=list(lines.filter(feedback_status="RJCT")[:LINES_SHOWN]),
            feedback=list(report.feedback.select_related("imported_by")),
            next_statuses=sorted(TRANSITIONS[ReportStatus(report.status)]),
            can_file=has_role(self.request.user, GENERATOR_ROLE),
            errors=errors or [],
        )
        return context

    def post(self, request, *args, **kwargs):
        if not has_role(request.user, GENERATOR_ROLE):
            raise DjangoPermissionDenied("Only a Compliance Officer or above may file reports.")
        report = self._report()
        try:
            if request.POST.get("action") == "feedback":
                upload = request.FILES.get("file")
                if upload is None:
                    raise ValidationFailed(details={"file": ["Choose the feedback file."]})
                feedback = report_feedback_import(
                    report=report, actor=request.user, raw=upload.read(), filename=upload.name
                )
                done = (
                    f"Feedback imported: {feedback.accepted} accepted, "
                    f"{feedback.rejected} rejected."
                )
            else:
                note = request.POST.get("note", "")
                if "\x00" in note:
                    raise ValidationFailed(details={"note": ["Null characters are not allowed."]})
                report_status_set(
                    report=report,
                    actor=request.user,
                    status=request.POST.get("status", ""),
                    note=note,
                )
                done = "Filing status recorded."
        except PlatformError as exc:
            details = getattr(exc, "details", None) or {}
            problems = [f"{k}: {' '.join(map(str, v))}" for k, v in details.items()]
            response = self.render_to_response(
                self.get_context_data(errors=[exc.message, *problems])
            )
            response.status_code = exc.status_code
            return response
        messages.success(request, f"{report}: {done}")
        if request.POST.get("back") == "list":  # the quick step from the reports list
            return HttpResponseRedirect(f"{reverse('reports-list')}?highlight={report.pk}")
        return HttpResponseRedirect(reverse("reports-detail", args=[report.pk]))
