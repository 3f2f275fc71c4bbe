"""The kill switch page: everyone with a role sees what is stopped and why; a Risk Manager
stops and restarts trading from here (through the same services as the API)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.generic import TemplateView

from apps.core.errors import PlatformError, ValidationFailed
from apps.core.lists import Column, DeskList, DeskListMixin
from apps.killswitch.filters import KillSwitchFilter
from apps.killswitch.models import KillSwitch, KillSwitchScope, KillSwitchState
from apps.killswitch.selectors import kill_switch_list
from apps.killswitch.services import (
    COMMENT_MAX_LENGTH,
    OPERATOR_ROLE,
    REASON_MAX_LENGTH,
    kill_switch_activate,
    kill_switch_activation_clean,
    kill_switch_deactivate,
    kill_switch_may_operate,
    kill_switch_snapshot,
)
from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role
from apps.trading import selectors

HISTORY_LENGTH = 50
SUGGESTIONS = 500


# The narrowest scope first, and the default: halting the whole firm is a choice made on
# purpose, never the form's starting point.
SCOPE_CHOICES = [
    (KillSwitchScope.INSTRUMENT, KillSwitchScope.INSTRUMENT.label),
    (KillSwitchScope.ACCOUNT, KillSwitchScope.ACCOUNT.label),
    (KillSwitchScope.FIRM, "Firm (everything)"),
]


class KillSwitchForm(forms.Form):
    scope = forms.ChoiceField(choices=SCOPE_CHOICES, initial=KillSwitchScope.INSTRUMENT)
    target = forms.CharField(
        max_length=64,
        required=False,
        help_text="Instrument symbol or account code; empty for the whole firm.",
    )
    state = forms.ChoiceField(
        choices=KillSwitchState.choices, initial=KillSwitchState.HALTED, widget=forms.RadioSelect
    )
    # Not required here: the service checks target and reason and reports all problems at once.
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    cancel_working = forms.BooleanField(
        required=False, label="Also cancel the working orders in scope"
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        """Put the service's field errors next to their fields (the rest above the form)."""
        for field, problems in (exc.details or {"__all__": [exc.message]}).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                self.add_error(field if field in self.fields else None, str(problem))


KILL_SWITCH_LIST = DeskList(
    name="kill-switches",
    object_type="rules.killswitch",
    columns=[
        Column("id", "#", lambda s: s.pk, "pk"),
        Column("scope", "Scope", lambda s: f"{s.get_scope_display()} {s.target}".strip(), "scope"),
        Column("state", "State", lambda s: s.get_state_display(), "state"),
        Column("reason", "Reason", lambda s: s.reason),
        Column("activated", "Activated (UTC)", lambda s: s.activated_at, "activated_at"),
        Column(
            "deactivated",
            "Deactivated (UTC)",
            lambda s: s.deactivated_at,
            "deactivated_at",
        ),
        Column("lift_reason", "Why lifted", lambda s: s.lift_reason),
        Column("canceled", "Canceled", lambda s: s.canceled_orders, "canceled_orders"),
        Column("activated_by", "Activated by", lambda s: s.activator, shown=False),
        Column(
            "deactivated_by",
            "Deactivated by",
            lambda s: s.deactivated_by.get_username() if s.deactivated_by else "",
            shown=False,
        ),
        Column("active", "Active", lambda s: "yes" if s.is_active else "no", shown=False),
    ],
    search_fields=[
        "target",
        "reason",
        "lift_reason",
        "activated_by__username",
        "activated_by_system",
        "deactivated_by__username",
    ],
    date_field="activated_at",
    default_sort="-activated",
)


class KillSwitchPageView(RoleRequiredMixin, DeskListMixin, TemplateView):
    required_role = Role.VIEWER
    template_name = "killswitch/kill_switch.html"
    desk_list = KILL_SWITCH_LIST
    page_size = HISTORY_LENGTH

    def desk_rows(self):
        rows = kill_switch_list(user=self.request.user)
        self.filters = KillSwitchFilter(self.desk_params(), queryset=rows)
        if not self.filters.is_valid():
            self.desk_problems.extend(
                f"{name}: {' '.join(errs)}" for name, errs in self.filters.errors.items()
            )
            return rows.none()
        return self.filters.qs

    def get_context_data(self, form: KillSwitchForm | None = None, lift_errors=None, **kwargs):
        user = self.request.user
        context = super().get_context_data(**kwargs)
        context["lift_errors"] = lift_errors or {}
        context["active"] = list(kill_switch_list(user=user, active=True))
        for switch in context["active"]:
            switch.lift_problems = (lift_errors or {}).get(switch.pk, [])
        context["filters"] = self.filters
        context["scopes"] = KillSwitchScope.choices
        context["states"] = KillSwitchState.choices
        context["can_operate"] = kill_switch_may_operate(user)
        if context["can_operate"]:
            context["form"] = form or KillSwitchForm()
            context["account_codes"] = list(
                selectors.account_list(user=user)
                .filter(is_active=True)
                .values_list("code", flat=True)[:SUGGESTIONS]
            )
            context["instrument_symbols"] = list(
                selectors.instrument_list()
                .filter(is_active=True)
                .values_list("symbol", flat=True)[:SUGGESTIONS]
            )
            context["comment_max_length"] = COMMENT_MAX_LENGTH
        return context

    def post(self, request, *args, **kwargs):
        """Two steps: the form first shows what would be stopped and asks to confirm (no
        script: a page of its own); only the confirmed form activates the switch."""
        if not kill_switch_may_operate(request.user):
            raise PermissionDenied("Only a Risk Manager or above may activate the kill switch.")
        form = KillSwitchForm(request.POST)
        confirmed = request.POST.get("confirm") == "yes"
        if form.is_valid():
            try:
                if not confirmed:
                    return self._confirmation(form)
                switch = kill_switch_activate(actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            except PlatformError as exc:
                form.add_error(None, exc.message)
            else:
                where = switch.target or "the whole firm"
                text = f"Kill switch #{switch.pk} active: {switch.get_state_display()} for {where}."
                if switch.canceled_orders:
                    text += f" {switch.canceled_orders} working order(s) canceled."
                messages.success(request, text)
                return HttpResponseRedirect(reverse("kill-switch"))
        # Django's convention for a form with errors: the page again, with them next to the fields.
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = 400
        return response

    def _confirmation(self, form: KillSwitchForm):
        data = form.cleaned_data
        target, reason = kill_switch_activation_clean(
            scope=data["scope"], target=data["target"], state=data["state"], reason=data["reason"]
        )
        snapshot = kill_switch_snapshot(scope=data["scope"], target=target)
        return render(
            self.request,
            "killswitch/confirm.html",
            {
                "form": form,
                "scope": KillSwitchScope(data["scope"]),
                "state": KillSwitchState(data["state"]),
                "target": target,
                "reason": reason,
                "cancel_working": data["cancel_working"],
                "positions": len(snapshot["positions"]),
                "working_orders": len(snapshot["working_orders"]),
            },
        )


class KillSwitchDeactivatePageView(KillSwitchPageView):
    """POST only: lift one switch with a reason, then back to the page with the outcome; without
    a reason, the page again (400) with the problem beside that switch's form."""

    required_role = OPERATOR_ROLE
    http_method_names = ["post"]

    def post(self, request, switch_id: int):
        switch = get_object_or_404(KillSwitch, pk=switch_id)
        reason = request.POST.get("reason", "")
        try:
            kill_switch_deactivate(
                switch=switch, actor=request.user, reason=reason, require_reason=True
            )
        except ValidationFailed as exc:
            problems = [str(m) for msgs in exc.details.values() for m in msgs] or [exc.message]
            context = self.get_context_data(lift_errors={switch.pk: problems})
            return self.render_to_response(context, status=400)
        except PlatformError as exc:
            messages.error(request, f"Kill switch #{switch.pk} not deactivated: {exc.message}")
        else:
            messages.success(request, f"Kill switch #{switch.pk} deactivated.")
        return HttpResponseRedirect(reverse("kill-switch"))
