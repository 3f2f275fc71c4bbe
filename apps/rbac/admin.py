"""Admin for users and tokens, and the mixin every model admin uses to ask the policy."""

import contextlib

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.errors import PlatformError
from apps.rbac import hooks
from apps.rbac.access import can, user_role, user_service_role
from apps.rbac.models import ApiToken, StaffIdentity
from apps.rbac.roles import Role, ServiceRole, any_role_from_slug
from apps.rbac.services import (
    USER_FIELDS,
    api_token_revoke,
    mfa_device_remove,
    staff_identity_set,
    user_create,
    user_is_locked,
    user_lockouts,
    user_lockouts_lift,
    user_update,
)

User = get_user_model()


class RoleAdminMixin:
    """has_*_permission from the policy table (apps.rbac.policy), never from ad-hoc checks."""

    def _label(self) -> str:
        return self.model._meta.label_lower

    def has_module_permission(self, request) -> bool:
        return can(request.user, "view", self._label())

    def has_view_permission(self, request, obj=None) -> bool:
        return can(request.user, "view", self._label())

    def has_add_permission(self, request, *args) -> bool:
        return can(request.user, "add", self._label())

    def has_change_permission(self, request, obj=None) -> bool:
        return can(request.user, "change", self._label())

    def has_delete_permission(self, request, obj=None) -> bool:
        return can(request.user, "delete", self._label())

    def get_queryset(self, request):
        """Rows of an account (orders, fills, positions...) only for the accounts the user is
        entitled to: a model whose queryset can `restrict(user)` is restricted (NetBox's way);
        a row outside them is not found."""
        queryset = super().get_queryset(request)
        restrict = getattr(queryset, "restrict", None)
        return restrict(request.user) if restrict is not None else queryset


class ReadOnlyAdminMixin(RoleAdminMixin):
    """Rows written only by services: viewable by role, never edited in a form."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


ROLE_CHOICES = (
    [("", "— no role —")]
    + [(r.slug, r.group_name) for r in Role]
    + [(s.slug, f"{s.group_name} (service identity)") for s in ServiceRole]
)


class UserRoleForm(forms.ModelForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            role = user_role(self.instance) or user_service_role(self.instance)
            self.fields["role"].initial = role.slug if role else ""


class UserAddForm(UserRoleForm):
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user


admin.site.unregister(Group)
with contextlib.suppress(admin.sites.NotRegistered):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(RoleAdminMixin, DjangoUserAdmin):
    form = UserRoleForm
    add_form = UserAddForm
    list_display = ["username", "email", "role_name", "is_active", "locked", "last_login"]
    list_filter = ["is_active", "groups"]
    fieldsets = [
        (None, {"fields": ["username", "first_name", "last_name", "email", "is_active", "role"]}),
        ("Sign-in", {"fields": ["sign_in_lockouts"]}),
    ]
    add_fieldsets = [(None, {"fields": ["username", "password", "email", "role"]})]
    readonly_fields = ["sign_in_lockouts"]
    filter_horizontal: list = []

    @admin.display(description="role")
    def role_name(self, obj) -> str:
        role = user_role(obj) or user_service_role(obj)
        return role.group_name if role else "—"

    @admin.display(description="locked", boolean=True)
    def locked(self, obj) -> bool:
        return any(user_is_locked(a) for a in user_lockouts(obj))

    @admin.display(description="failed sign-ins")
    def sign_in_lockouts(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        attempts = user_lockouts(obj)
        if not attempts:
            return "None recorded: the user can sign in."
        rows = format_html_join(
            "",
            "<li>{} failed from {} (last {} UTC){}</li>",
            (
                (
                    a.failures_since_start,
                    a.ip_address or "an unknown address",
                    f"{a.attempt_time:%Y-%m-%d %H:%M:%S}",
                    ": LOCKED" if user_is_locked(a) else "",
                )
                for a in attempts
            ),
        )
        lift = reverse("admin:auth_user_lift_lockout", args=[obj.pk])
        return format_html(
            '<ul>{}</ul><a class="button" href="{}">Lift the lockout…</a>', rows, lift
        )

    def get_urls(self):
        lift = path(
            "<int:user_id>/lift-lockout/",
            self.admin_site.admin_view(self.lift_lockout_view),
            name="auth_user_lift_lockout",
        )
        return [lift, *super().get_urls()]

    def lift_lockout_view(self, request, user_id: int):
        """Lift a user's lockout, with a reason (audited); Admins only, like every user change."""
        user = get_object_or_404(User, pk=user_id)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        error = ""
        if request.method == "POST":
            try:
                removed = user_lockouts_lift(
                    user=user, actor=request.user, reason=request.POST.get("reason", "")
                )
            except PlatformError as exc:
                error = " ".join(exc.details.get("reason", [exc.message]))
            else:
                self.message_user(
                    request,
                    f"Lockout of {user.get_username()} lifted ({removed} record(s) removed).",
                    messages.SUCCESS,
                )
                return redirect("admin:auth_user_change", user.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lift the lockout of {user.get_username()}",
            "opts": self.model._meta,
            "original": user,
            "attempts": [(a, user_is_locked(a)) for a in user_lockouts(user)],
            "error": error,
            "reason": request.POST.get("reason", ""),
        }
        return TemplateResponse(request, "admin/auth/user/lift_lockout.html", context)

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, so that every change of a user is validated and audited. The
        role is proposed, not set: it changes when another Admin approves it (maker-checker);
        a new user starts with no role until then."""
        data = form.cleaned_data
        slug = data.get("role") or ""
        role = any_role_from_slug(slug) if slug else None
        if change:
            fields = [f for f in form.changed_data if f in USER_FIELDS]
            user = user_update(user=obj, actor=request.user, **{f: data[f] for f in fields})
        else:
            user = user_create(
                username=data["username"],
                password=data["password"],
                role=None,
                email=data.get("email", ""),
                actor=request.user,
            )
        try:
            proposal = hooks.user_role_propose(user=user, role=role, actor=request.user)
        except PlatformError as exc:  # a role change of this user is pending already, say
            self.message_user(request, f"No role proposed: {exc.message}", messages.ERROR)
            proposal = None
        if proposal is not None:
            self.message_user(
                request,
                f"The role {role.group_name if role else '(none)'} for {user.get_username()} is "
                f"proposed as configuration change #{proposal.pk}: it takes effect when "
                "another admin approves it.",
                messages.SUCCESS,
            )
        obj.pk = user.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        return None  # groups are the role, set above


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "user__username", "prefix"]
    exclude = ["digest", "credential_fingerprint"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        hidden = ("digest", "credential_fingerprint")
        return [f.name for f in self.model._meta.fields if f.name not in hidden]

    @admin.action(description="Revoke selected tokens", permissions=["view"])
    def revoke(self, request, queryset) -> None:
        for token in queryset:
            api_token_revoke(token=token, actor=request.user)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")


class SecondFactorDeviceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Second-factor devices: an Admin sees who has enrolled and removes a lost device (its
    user enrols again at the next sign-in). Secrets and recovery codes are never shown."""

    list_display = ["user", "name", "confirmed", "last_used_at", "created_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    shown = ["user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    actions = ["delete_selected"]

    def get_fields(self, request, obj=None):
        return self.shown

    def get_readonly_fields(self, request, obj=None):
        return self.shown

    def delete_model(self, request, obj) -> None:
        mfa_device_remove(device=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for device in queryset:
            mfa_device_remove(device=device, actor=request.user)


def _register_second_factor_admins() -> None:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        with contextlib.suppress(admin.sites.NotRegistered):
            admin.site.unregister(model)
        admin.site.register(model, SecondFactorDeviceAdmin)


_register_second_factor_admins()


@admin.register(StaffIdentity)
class StaffIdentityAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Who a member of staff is for MiFIR (investment decision, execution): personal data,
    Compliance Officers and above only. Saved through `staff_identity_set` (audited)."""

    list_display = ["user", "nationality", "national_id_kind", "branch_country", "updated_at"]
    search_fields = ["user__username", "surnames"]
    fields = [
        "user",
        "first_names",
        "surnames",
        "birth_date",
        "nationality",
        "national_id",
        "national_id_kind",
        "branch_country",
        "updated_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "updated_at"] if obj is not None else ["updated_at"]

    def save_model(self, request, obj, form, change) -> None:
        data = dict(form.cleaned_data)
        user = obj.user if change else data.pop("user")
        data.pop("user", None)
        changes = data if not change else {n: data[n] for n in form.changed_data if n in data}
        saved = staff_identity_set(user=user, actor=request.user, **changes)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        return None
