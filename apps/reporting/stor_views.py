"""The STOR pages (Compliance Officer and above): the list with the draft-from-an-alert form,
and one STOR with its five sections, the drafter's edit form and send-for-review button, the
second officer's approve / send-back form, and its exported files. Everything goes through the
services the API calls too."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from apps.core.errors import PlatformError, ValidationFailed
from apps.rbac.mixins import RoleRequiredMixin
from apps.reporting import selectors
from apps.reporting.models import BreachType, StorStatus
from apps.reporting.stor import (
    APPROVE,
    NARRATIVE_FIELDS,
    SEND_BACK,
    STOR_ROLE,
    stor_draft,
    stor_review,
    stor_review_request,
    stor_update,
)
from apps.reporting.stor_files import TRANSACTION_COLUMNS
from apps.rules.models import RegulatoryEntity
from apps.surveillance.selectors import alert_get

PAGE_SIZE = 50
LIST_FIELDS_ON_PAGE = ("indicators", "attachments")  # one item per line in a textarea


def _problems(exc: PlatformError) -> list[str]:
    details = getattr(exc, "details", None) or {}
    return [exc.message, *[f"{k}: {' '.join(map(str, v))}" for k, v in details.items()]]


def _no_nul(values: dict) -> None:
    if any("\x00" in str(v) for v in values.values()):
        raise ValidationFailed(details={"form": ["Null characters are not allowed."]})


def _entity(code: str):
    if not code:
        return None
    entity = RegulatoryEntity.objects.filter(code=code).first()
    if entity is None:
        raise ValidationFailed(details={"regulatory_entity": ["No such entity."]})
    return entity


class StorListView(RoleRequiredMixin, TemplateView):
    required_role = STOR_ROLE
    template_name = "reporting/stor_list.html"

    def get_context_data(self, errors=None, **kwargs):
        context = super().get_context_data(**kwargs)
        stors = selectors.stor_list(user=self.request.user).order_by("-created_at", "-id")
        wanted = self.request.GET.get("status")
        if wanted in StorStatus.values:
            stors = stors.filter(status=wanted)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            page=Paginator(stors, PAGE_SIZE).get_page(self.request.GET.get("page")),
            query=query.urlencode(),
            statuses=StorStatus.choices,
            status=wanted or "",
            errors=errors or [],
            alert_id=self.request.POST.get("alert", "") if self.request.method == "POST" else "",
        )
        return context

    def post(self, request, *args, **kwargs):
        raw = request.POST.get("alert", "").strip()
        try:
            _no_nul({"alert": raw})
            alert = (
                alert_get(user=request.user, alert_id=int(raw))
                if raw.isascii() and raw.isdigit() and len(raw) <= 18
                else None
            )
            if alert is None:
                raise ValidationFailed(details={"alert": ["No such alert."]})
            stor = stor_draft(
                alert=alert,
                actor=request.user,
                entity=_entity(request.POST.get("regulatory_entity", "").strip()),
            )
        except PlatformError as exc:
            response = self.render_to_response(self.get_context_data(errors=_problems(exc)))
            response.status_code = exc.status_code
            return response
        messages.success(request, f"STOR {stor.reference} drafted from alert #{alert.pk}.")
        return HttpResponseRedirect(reverse("stors-detail", args=[stor.pk]))


class StorDetailView(RoleRequiredMixin, TemplateView):
    required_role = STOR_ROLE
    template_name = "reporting/stor_detail.html"

    def _stor(self):
        stor = selectors.stor_get(user=self.request.user, stor_id=self.kwargs["pk"])
        if stor is None:
            raise Http404("No such STOR.")
        return stor

    def get_context_data(self, errors=None, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        stor = self._stor()
        user = self.request.user
        columns = [label for _key, label in TRANSACTION_COLUMNS]
        rows = [[t.get(key, "") for key, _label in TRANSACTION_COLUMNS] for t in stor.transactions]
        values = {name: getattr(stor, name) for name in NARRATIVE_FIELDS}
        for name in LIST_FIELDS_ON_PAGE:
            values[name] = "\n".join(values[name])
        values["regulatory_entity"] = stor.regulatory_entity.code if stor.regulatory_entity else ""
        context.update(
            stor=stor,
            columns=columns,
            rows=rows,
            form=form or values,
            breach_types=BreachType.choices,
            entities=RegulatoryEntity.objects.exclude(nca_country="").order_by("code"),
            can_edit=stor.status == StorStatus.DRAFT and stor.drafted_by_id == user.pk,
            can_review=stor.status == StorStatus.IN_REVIEW and stor.drafted_by_id != user.pk,
            own_in_review=stor.status == StorStatus.IN_REVIEW and stor.drafted_by_id == user.pk,
            errors=errors or [],
        )
        return context

    def post(self, request, *args, **kwargs):
        stor = self._stor()
        action = request.POST.get("action", "")
        form = None
        try:
            if action == "edit":
                form = {name: request.POST.get(name, "") for name in NARRATIVE_FIELDS}
                form["regulatory_entity"] = request.POST.get("regulatory_entity", "").strip()
                _no_nul(form)
                changes = dict(form)
                entity = _entity(changes.pop("regulatory_entity"))
                for name in LIST_FIELDS_ON_PAGE:
                    changes[name] = [line for line in changes[name].splitlines() if line.strip()]
                stor_update(stor=stor, actor=request.user, entity=entity, **changes)
                done = "Draft saved."
            elif action == "review_request":
                stor_review_request(stor=stor, actor=request.user)
                done = "Sent for review by a second Compliance Officer."
            elif action in (APPROVE, SEND_BACK):
                comment = request.POST.get("comment", "")
                _no_nul({"comment": comment})
                stor = stor_review(stor=stor, actor=request.user, decision=action, comment=comment)
                done = (
                    "Approved: its PDF and XML files are on the reports page."
                    if action == APPROVE
                    else "Sent back to its drafter."
                )
            else:
                raise ValidationFailed(details={"action": ["Unknown action."]})
        except PlatformError as exc:
            response = self.render_to_response(
                self.get_context_data(errors=_problems(exc), form=form)
            )
            response.status_code = exc.status_code
            return response
        messages.success(request, done)
        return HttpResponseRedirect(reverse("stors-detail", args=[stor.pk]))
