"""Surveillance in the back office: detector settings (Compliance Officer, through the
service, audited), and read-only alerts, occurrences and drop copies."""

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from apps.core.errors import ValidationFailed
from apps.rbac.admin import ReadOnlyAdminMixin, RoleAdminMixin
from apps.surveillance.detectors import DETECTORS
from apps.surveillance.detectors.base import params_validated
from apps.surveillance.models import (
    Alert,
    DetectorConfig,
    ExecutionReport,
    Occurrence,
    RelatedParty,
)
from apps.surveillance.services import (
    detector_config_update,
    related_party_record,
    related_party_remove,
)


class DetectorConfigForm(forms.ModelForm):
    class Meta:
        model = DetectorConfig
        fields = ["enabled", "params", "critical_action", "warning_action"]

    def clean_params(self):
        params = self.cleaned_data.get("params")
        try:
            params_validated(DETECTORS[self.instance.detector].params_spec, params)
        except ValidationFailed as exc:
            raise forms.ValidationError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())
            ) from None
        return params or {}


@admin.register(DetectorConfig)
class DetectorConfigAdmin(RoleAdminMixin, admin.ModelAdmin):
    form = DetectorConfigForm
    list_display = ["detector", "enabled", "critical_action", "warning_action", "updated_at"]
    readonly_fields = ["detector", "parameters_in_force", "updated_at"]
    fields = [
        "detector",
        "enabled",
        "params",
        "parameters_in_force",
        "critical_action",
        "warning_action",
        "updated_at",
    ]

    @admin.display(description="parameters in force (defaults with the overrides)")
    def parameters_in_force(self, obj) -> str:
        spec = DETECTORS[obj.detector].params_spec
        try:
            values = params_validated(spec, obj.params)
        except ValidationFailed:
            values = params_validated(spec, {})
        rows = "".join(
            format_html("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", k, v, spec[k].help)
            for k, v in values.items()
        )
        return format_html("<table>{}</table>", format_html(rows))

    def save_model(self, request, obj, form, change) -> None:
        detector_config_update(
            config=obj,
            actor=request.user,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "detector",
        "severity",
        "status",
        "disposition",
        "account",
        "instrument",
        "score",
        "occurrences",
        "assignee",
        "created_at",
    ]
    list_filter = ["detector", "severity", "status", "disposition"]
    search_fields = ["title", "account__code", "instrument__symbol"]
    list_select_related = ["account", "instrument", "assignee"]
    exclude = ["evidence"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "evidence_display"]

    @admin.display(description="evidence")
    def evidence_display(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True))


@admin.register(Occurrence)
class OccurrenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "alert", "seq", "at", "score", "title"]
    list_select_related = ["alert"]


@admin.register(ExecutionReport)
class ExecutionReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "exec_id",
        "account",
        "instrument",
        "client_order_id",
        "order",
        "order_status",
        "side",
        "quantity",
        "price",
        "venue",
        "executed_at",
        "reported_total",
    ]
    list_select_related = ["account", "instrument", "order__instrument"]
    search_fields = ["exec_id", "client_order_id"]


class RelatedPartyForm(forms.ModelForm):
    class Meta:
        model = RelatedParty
        fields = ["owner", "related_owner", "relationship", "documented_in"]

    def clean(self):
        data = super().clean()
        owner, related = data.get("owner"), data.get("related_owner")
        if owner and related:
            if owner.pk == related.pk:
                raise forms.ValidationError("An owner is itself already.")
            pair = sorted((owner.pk, related.pk))
            if RelatedParty.objects.filter(owner_id=pair[0], related_owner_id=pair[1]).exists():
                raise forms.ValidationError("These owners are on record as related already.")
        return data


@admin.register(RelatedParty)
class RelatedPartyAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Owners that wash-trade surveillance counts as one: recorded and removed through the
    services (audited), never edited in place."""

    form = RelatedPartyForm
    list_display = ["owner", "related_owner", "relationship", "recorded_by", "created_at"]
    list_select_related = ["owner", "related_owner", "recorded_by"]
    search_fields = ["owner__name", "related_owner__name", "relationship"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["recorded_by", "created_at"]
        return ["owner", "related_owner", "relationship", "documented_in", "recorded_by"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        party = related_party_record(
            owner=form.cleaned_data["owner"],
            related_owner=form.cleaned_data["related_owner"],
            relationship=form.cleaned_data["relationship"],
            documented_in=form.cleaned_data["documented_in"],
            actor=request.user,
        )
        obj.pk = party.pk

    def delete_model(self, request, obj) -> None:
        related_party_remove(party=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for party in queryset:
            related_party_remove(party=party, actor=request.user)
