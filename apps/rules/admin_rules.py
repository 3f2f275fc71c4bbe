"""Rules, pending changes and the restricted list in the back office.

Nothing here writes a rule directly: the rule form is a proposal form (its save calls
`rule_change_propose`), and the pending changes are approved or rejected through
`rule_change_decide` by another Compliance Officer, with a comment typed on a confirmation page.

View, add, change and delete come from the policy table (`RoleAdminMixin`): every role views,
a Compliance Officer adds and changes (that is, proposes), nobody deletes. The admin actions
(propose a status, decide a change, end a restriction) are a Compliance Officer's too.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.core.errors import PlatformError, ValidationFailed
from apps.core.time import utcnow
from apps.rbac.access import has_role
from apps.rbac.admin import RoleAdminMixin
from apps.rbac.roles import Role
from apps.rules.models import (
    ComplianceRule,
    RegulatoryEntity,
    RestrictedListEntry,
    RuleChange,
    RuleChangeKind,
    RuleChangeStatus,
    RuleStatus,
    RuleVersion,
    WatchListEntry,
)
from apps.rules.replay import replay
from apps.rules.services import (
    EDITABLE_FIELDS,
    RULE_FIELDS,
    regulatory_entity_create,
    regulatory_entity_update,
    restricted_entry_add,
    restricted_entry_end,
    restricted_entry_validate,
    rule_change_decide,
    rule_change_propose,
    rule_proposal_validate,
    watch_entry_add,
    watch_entry_end,
)

OFFICER = Role.COMPLIANCE_OFFICER
REPLAY_DAYS = 30


def _errors_to_form(form: forms.Form, exc: PlatformError) -> None:
    """A service's error next to the form's fields (the rest above the form)."""
    if not isinstance(exc, ValidationFailed) or not exc.details:
        form.add_error(None, exc.message)
        return
    for name, msgs in exc.details.items():
        msgs = [str(m) for m in msgs] if isinstance(msgs, list) else [str(msgs)]
        if name in form.fields:
            if name not in form.errors:  # the form's own message for it comes first
                form.add_error(name, msgs)
        elif name == "non_field_errors":
            form.add_error(None, msgs)
        else:
            form.add_error(None, [f"{name}: {m}" for m in msgs])


# --- regulatory entities ----------------------------------------------------------------------


@admin.register(RegulatoryEntity)
class RegulatoryEntityAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "jurisdiction", "nca_country"]
    search_fields = ["code", "name", "jurisdiction"]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            saved = regulatory_entity_update(
                entity=obj,
                actor=request.user,
                **{
                    n: data[n]
                    for n in form.changed_data
                    if n in ("code", "name", "jurisdiction", "nca_country")
                },
            )
        else:
            saved = regulatory_entity_create(
                actor=request.user,
                code=data["code"],
                name=data["name"],
                jurisdiction=data["jurisdiction"],
                nca_country=data.get("nca_country", ""),
            )
        obj.pk = saved.pk
        obj.refresh_from_db()


# --- rules: the proposal form -----------------------------------------------------------------


class RuleProposalForm(forms.ModelForm):
    """Add and change a rule by proposing: saving creates a RuleChange, never the rule."""

    status_on_approval = forms.ChoiceField(
        choices=[(RuleStatus.ACTIVE, "Active"), (RuleStatus.TESTING, "Testing (shadow)")],
        initial=RuleStatus.ACTIVE,
        required=False,
        help_text="What the rule becomes once another compliance officer approves it.",
    )

    class Meta:
        model = ComplianceRule
        fields = RULE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields.pop("status_on_approval", None)
        if "parameters" in self.fields:
            self.fields["parameters"].required = False
            self.fields[
                "parameters"
            ].help_text = (
                'A JSON object; numbers as decimal strings, e.g. {"max_notional": "250000"}.'
            )

    def proposal(self) -> tuple[str, ComplianceRule | None, dict]:
        data = self.cleaned_data
        if self.instance.pk is None:
            fields = {n: data[n] for n in RULE_FIELDS if n in data}
            fields["status"] = data.get("status_on_approval") or RuleStatus.ACTIVE
            kind, rule = RuleChangeKind.CREATE, None
        else:
            fields = {n: data[n] for n in self.changed_data if n in EDITABLE_FIELDS}
            kind, rule = RuleChangeKind.EDIT, self.instance
        if "parameters" in fields and fields["parameters"] is None:
            fields["parameters"] = {}
        if "regulatory_entity" in fields:
            entity = fields["regulatory_entity"]
            fields["regulatory_entity"] = entity.code if entity is not None else None
        return kind, rule, fields

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            kind, rule, fields = self.proposal()
            try:
                rule_proposal_validate(kind=kind, rule=rule, fields=fields)
            except PlatformError as exc:
                _errors_to_form(self, exc)
        return cleaned

    def _post_clean(self) -> None:
        # The proposal was validated in clean() by the service's own checks. The rule itself
        # is never changed by this form, so the instance is left as it is.
        return None


def _show(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))
    if value == "":
        return '""'
    return str(value)


def change_diff(change: RuleChange) -> list[str]:
    """ "field: old → new" for each proposed field that differs from the rule before."""
    before = change.before
    lines = []
    for name, new in (change.proposed or {}).items():
        old = None if before is None else before.get(name)
        if before is not None and old == new:
            continue
        if before is None and new in (None, "", {}, []):
            continue
        lines.append(f"{name}: {_show(old)} → {_show(new)}")
    return lines


def _pending_for(rule: ComplianceRule) -> RuleChange | None:
    return rule.changes.filter(status=RuleChangeStatus.PENDING).first()


@admin.register(ComplianceRule)
class ComplianceRuleAdmin(RoleAdminMixin, admin.ModelAdmin):
    form = RuleProposalForm
    list_display = ["code", "name", "rule_type", "scope", "action", "status", "version"]
    list_filter = ["status", "rule_type", "scope", "action", "regulatory_entity"]
    search_fields = ["code", "name", "regulation", "scope_value"]
    list_select_related = ["regulatory_entity"]
    actions = ["propose_activation", "propose_testing", "propose_retirement", "whatif_replay"]

    def has_propose_permission(self, request) -> bool:
        return self.has_change_permission(request)  # changing a rule here is proposing

    def get_fieldsets(self, request, obj=None):
        rule = ["name", "description", "rule_type", "parameters", "action", "priority"]
        where = ["scope", "scope_value", "effective_from", "effective_until"]
        source = ["regulatory_entity", "regulation"]
        if obj is None:
            return [
                (
                    "Proposal",
                    {
                        "description": "Saving proposes the new rule: it takes effect only "
                        "when another compliance officer approves it.",
                        "fields": ["code", "status_on_approval"],
                    },
                ),
                ("Rule", {"fields": rule}),
                ("Where and when", {"fields": where}),
                ("Regulation", {"fields": source}),
            ]
        return [
            (
                "Proposal",
                {
                    "description": "Saving proposes an edit: the rule stays as it is until "
                    "another compliance officer approves it.",
                    "fields": ["code", "status", "version", "pending_change"],
                },
            ),
            ("Rule", {"fields": rule}),
            ("Where and when", {"fields": where}),
            ("Regulation", {"fields": source}),
            ("Record", {"fields": ["created_at", "updated_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["code", "status", "version", "pending_change", "created_at", "updated_at"]

    @admin.display(description="pending change")
    def pending_change(self, obj) -> str:
        change = _pending_for(obj) if obj.pk else None
        if change is None:
            return "—"
        url = reverse("admin:rules_rulechange_change", args=[change.pk])
        return format_html(
            '<a href="{}">#{} {}</a> by {}', url, change.pk, change.kind, change.proposed_by
        )

    # saving proposes: nothing is written here but through the service

    def save_model(self, request, obj, form, change) -> None:
        kind, rule, fields = form.proposal()
        try:
            proposal = rule_change_propose(kind=kind, actor=request.user, rule=rule, fields=fields)
        except PlatformError as exc:
            # Validated a moment ago in the form: only a race gets here. Nothing was stored.
            request._rule_proposal_error = exc.message
            return
        request._rule_proposal = proposal
        obj.pk = proposal.rule_id
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        return None  # no inlines or many-to-many: the proposal is the whole change

    def log_addition(self, request, obj, message):
        proposal = getattr(request, "_rule_proposal", None)
        if proposal is not None:
            return super().log_addition(request, obj, f"Proposed as change #{proposal.pk}.")
        return None

    def log_change(self, request, obj, message):
        proposal = getattr(request, "_rule_proposal", None)
        if proposal is not None:
            return super().log_change(request, obj, f"Proposed change #{proposal.pk}.")
        return None

    def _after_proposal(self, request):
        error = getattr(request, "_rule_proposal_error", None)
        if error:
            self.message_user(request, f"Nothing was proposed: {error}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        proposal = request._rule_proposal
        self.message_user(
            request,
            f"Proposed {proposal.kind} of rule {proposal.rule.code} as change #{proposal.pk}: "
            "it takes effect when another compliance officer approves it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:rules_rulechange_changelist"))

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_proposal(request)

    def response_change(self, request, obj):
        return self._after_proposal(request)

    # status changes, proposed from the list

    def _propose_status(self, request, queryset, kind: str) -> None:
        done, refused = [], []
        for rule in queryset:
            try:
                proposal = rule_change_propose(kind=kind, actor=request.user, rule=rule, fields={})
                done.append(f"{rule.code} (#{proposal.pk})")
            except PlatformError as exc:
                refused.append(f"{rule.code}: {exc.message}")
        if done:
            self.message_user(
                request,
                f"Proposed {kind} of {', '.join(done)}; awaiting another officer's approval.",
                messages.SUCCESS,
            )
        if refused:
            self.message_user(request, "Not proposed: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Propose activation", permissions=["propose"])
    def propose_activation(self, request, queryset) -> None:
        self._propose_status(request, queryset, RuleChangeKind.ACTIVATE)

    @admin.action(description="Propose shadow testing", permissions=["propose"])
    def propose_testing(self, request, queryset) -> None:
        self._propose_status(request, queryset, RuleChangeKind.TEST)

    @admin.action(description="Propose retirement", permissions=["propose"])
    def propose_retirement(self, request, queryset) -> None:
        self._propose_status(request, queryset, RuleChangeKind.RETIRE)

    @admin.action(description=f"What-if replay (last {REPLAY_DAYS} days)", permissions=["propose"])
    def whatif_replay(self, request, queryset) -> None:
        pending = set(
            RuleChange.objects.filter(
                rule__in=queryset, status=RuleChangeStatus.PENDING
            ).values_list("rule_id", flat=True)
        )
        replayable = (RuleStatus.DRAFT, RuleStatus.TESTING, RuleStatus.PENDING_APPROVAL)
        rules, skipped = [], []
        for rule in queryset:
            (rules if rule.status in replayable or rule.pk in pending else skipped).append(rule)
        if skipped:
            self.message_user(
                request,
                "Not replayed (neither draft, testing nor pending a change): "
                + ", ".join(r.code for r in skipped),
                messages.WARNING,
            )
        if not rules:
            return
        today = utcnow().date()
        report = replay(
            date_from=today - timedelta(days=REPLAY_DAYS),
            date_to=today,
            rules=rules,
            include_testing=False,
        )
        self.message_user(
            request,
            report.summary() + " (Positions and prices are today's, not as they were.)",
            messages.WARNING if report.changed else messages.INFO,
        )


# --- pending changes --------------------------------------------------------------------------


class ChangeStatusFilter(admin.SimpleListFilter):
    """Pending first: the list opens on what waits for a decision."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*RuleChangeStatus.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or RuleChangeStatus.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or RuleChangeStatus.PENDING
        if value == "all":
            return queryset
        return queryset.filter(status=value)


DECIDE_TEMPLATE = "admin/rules/rulechange/decide.html"


@admin.register(RuleChange)
class RuleChangeAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "rule_code",
        "status",
        "diff",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
    ]
    list_display_links = ["id", "rule_code"]
    list_filter = [ChangeStatusFilter, "kind"]
    search_fields = ["rule__code", "comment"]
    list_select_related = ["rule", "proposed_by", "decided_by"]
    actions = ["approve_changes", "reject_changes"]
    fields = [
        "rule",
        "kind",
        "status",
        "diff",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "comment",
        "before",
        "proposed",
    ]
    readonly_fields = fields

    def has_approve_permission(self, request) -> bool:
        return has_role(request.user, OFFICER)

    @admin.display(description="rule", ordering="rule__code")
    def rule_code(self, obj) -> str:
        return obj.rule.code if obj.rule_id else obj.proposed.get("code", "?")

    @admin.display(description="change")
    def diff(self, obj) -> str:
        lines = change_diff(obj)
        if not lines:
            return "—"
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    def _decide(self, request, queryset, *, approve: bool):
        action = "approve_changes" if approve else "reject_changes"
        verb = "Approve" if approve else "Reject"
        pending = list(
            queryset.filter(status=RuleChangeStatus.PENDING).select_related("rule", "proposed_by")
        )
        if not pending:
            self.message_user(request, "None of the selected changes is pending.", messages.WARNING)
            return None
        comment = request.POST.get("comment", "").strip()
        error = ""
        if request.POST.get("confirm") == "yes":
            if comment:
                self._apply_decisions(request, pending, approve=approve, comment=comment)
                return None
            error = "A comment is required."
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb} rule changes",
            "opts": self.model._meta,
            "verb": verb,
            "action": action,
            "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changes": [
                {"change": c, "code": self.rule_code(c), "diff": change_diff(c)} for c in pending
            ],
            "comment": comment,
            "error": error,
            "cancel_url": reverse("admin:rules_rulechange_changelist"),
        }
        return TemplateResponse(request, DECIDE_TEMPLATE, context)

    def _apply_decisions(self, request, pending, *, approve: bool, comment: str) -> None:
        done, refused = [], []
        for change in pending:
            try:
                rule_change_decide(
                    change=change, actor=request.user, approve=approve, comment=comment
                )
                done.append(f"#{change.pk}")
            except PlatformError as exc:
                refused.append(f"#{change.pk}: {exc.message}")
        if done:
            verb = "Approved" if approve else "Rejected"
            self.message_user(request, f"{verb} {', '.join(done)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Approve selected changes", permissions=["approve"])
    def approve_changes(self, request, queryset):
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected changes", permissions=["approve"])
    def reject_changes(self, request, queryset):
        return self._decide(request, queryset, approve=False)


@admin.register(RuleVersion)
class RuleVersionAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ["rule", "version", "change", "created_at"]
    list_filter = ["rule__rule_type"]
    search_fields = ["rule__code"]
    list_select_related = ["rule", "change"]
    readonly_fields = ["rule", "version", "snapshot", "change", "created_at"]


# --- the restricted list ----------------------------------------------------------------------


class RestrictedEntryForm(forms.ModelForm):
    class Meta:
        model = RestrictedListEntry
        fields = ["instrument", "issuer", "reason", "effective_from", "effective_until"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "effective_from" in self.fields:
            self.fields["effective_from"].required = False
            self.fields["effective_from"].help_text = "Empty: from now."

    def clean(self):
        cleaned = super().clean()
        # Also when a field already failed: "give an instrument or an issuer" must show.
        try:
            restricted_entry_validate(
                instrument=cleaned.get("instrument"),
                issuer=cleaned.get("issuer", ""),
                reason=cleaned.get("reason", ""),
                effective_from=cleaned.get("effective_from"),
                effective_until=cleaned.get("effective_until"),
            )
        except PlatformError as exc:
            _errors_to_form(self, exc)
        return cleaned

    def _post_clean(self) -> None:
        # Checked in clean() by the service's checks; the service creates the row.
        return None


class InForceFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", "In force now"), ("no", "Ended or not yet in force")]

    def queryset(self, request, queryset):
        from django.db.models import Q

        now = utcnow()
        live = Q(effective_from__lte=now) & (
            Q(effective_until__isnull=True) | Q(effective_until__gt=now)
        )
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


@admin.register(RestrictedListEntry)
class RestrictedListEntryAdmin(RoleAdminMixin, admin.ModelAdmin):
    form = RestrictedEntryForm
    list_display = [
        "target",
        "reason",
        "effective_from",
        "effective_until",
        "in_force",
        "added_by",
    ]
    list_filter = [InForceFilter]
    search_fields = ["instrument__symbol", "issuer", "reason"]
    list_select_related = ["instrument", "added_by"]
    autocomplete_fields = ["instrument"]
    actions = ["end_now"]

    def has_end_permission(self, request) -> bool:
        return has_role(request.user, OFFICER)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["instrument", "issuer", "reason", "effective_from", "effective_until", "added_by"]

    def get_fields(self, request, obj=None):
        fields = ["instrument", "issuer", "reason", "effective_from", "effective_until"]
        return fields if obj is None else [*fields, "added_by"]

    @admin.display(description="restricted")
    def target(self, obj) -> str:
        return obj.instrument.symbol if obj.instrument_id else f"issuer: {obj.issuer}"

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj) -> bool:
        now = utcnow()
        return obj.effective_from <= now and (
            obj.effective_until is None or obj.effective_until > now
        )

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        entry = restricted_entry_add(
            actor=request.user,
            instrument=data.get("instrument"),
            issuer=data.get("issuer", ""),
            reason=data.get("reason", ""),
            effective_from=data.get("effective_from"),
            effective_until=data.get("effective_until"),
        )
        obj.pk = entry.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        return None

    @admin.action(description="End the selected restrictions now", permissions=["end"])
    def end_now(self, request, queryset) -> None:
        done, refused = [], []
        for entry in queryset:
            try:
                restricted_entry_end(entry=entry, actor=request.user)
                done.append(str(entry.pk))
            except PlatformError as exc:
                refused.append(f"#{entry.pk}: {exc.message}")
        if done:
            self.message_user(request, f"Ended {len(done)} restriction(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not ended: " + "; ".join(refused), messages.ERROR)


# --- the watch list ---------------------------------------------------------------------------


class WatchEntryForm(RestrictedEntryForm):
    class Meta(RestrictedEntryForm.Meta):
        model = WatchListEntry


@admin.register(WatchListEntry)
class WatchListEntryAdmin(RestrictedListEntryAdmin):
    """The same screens as the restricted list; only a Compliance Officer sees them."""

    form = WatchEntryForm

    @admin.display(description="watched")
    def target(self, obj) -> str:
        return obj.instrument.symbol if obj.instrument_id else f"issuer: {obj.issuer}"

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        entry = watch_entry_add(
            actor=request.user,
            instrument=data.get("instrument"),
            issuer=data.get("issuer", ""),
            reason=data.get("reason", ""),
            effective_from=data.get("effective_from"),
            effective_until=data.get("effective_until"),
        )
        obj.pk = entry.pk
        obj.refresh_from_db()

    @admin.action(description="End the selected watch list entries now", permissions=["end"])
    def end_now(self, request, queryset) -> None:
        done, refused = [], []
        for entry in queryset:
            try:
                watch_entry_end(entry=entry, actor=request.user)
                done.append(str(entry.pk))
            except PlatformError as exc:
                refused.append(f"#{entry.pk}: {exc.message}")
        if done:
            self.message_user(request, f"Ended {len(done)} watch list entries.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not ended: " + "; ".join(refused), messages.ERROR)
