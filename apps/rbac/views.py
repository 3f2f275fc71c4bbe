"""The sign-in pages beyond the password: the second factor (enrol an authenticator, enter a
code, renew recovery codes) and the password reset by email."""

from base64 import b32encode
from urllib.parse import urlsplit

import django_otp
import segno
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View

from apps.core.errors import ValidationFailed
from apps.rbac.mfa import SETUP_URL, VERIFY_URL, is_enrolled, mfa_required, otp_match
from apps.rbac.mixins import RoleRequiredMixin
from apps.rbac.roles import Role
from apps.rbac.services import (
    mfa_passed,
    mfa_recovery_codes_generate,
    mfa_recovery_codes_left,
    mfa_totp_begin,
    mfa_totp_confirm,
    user_password_reset,
)


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


def _verified(user) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())


class OtpVerifyView(RoleRequiredMixin, View):
    """Enter the authenticator's code (or a recovery code) after the password."""

    required_role = Role.VIEWER
    template_name = "registration/otp_verify.html"

    def get(self, request):
        if not is_enrolled(request.user):
            return HttpResponseRedirect(f"{SETUP_URL}?next={_next_url(request)}")
        return render(request, self.template_name, {"next": _next_url(request)})

    def post(self, request):
        device = otp_match(request.user, request.POST.get("otp", ""))
        if device is None:
            context = {"next": _next_url(request), "error": "Wrong or expired code."}
            return render(request, self.template_name, context, status=400)
        django_otp.login(request, device)
        mfa_passed(user=request.user, device=device)
        return HttpResponseRedirect(_next_url(request))


class OtpSetupView(RoleRequiredMixin, View):
    """Enrol an authenticator app: its secret (and a QR code of it), then a code to confirm.
    Re-enrolling (a new phone) needs the second factor passed first."""

    required_role = Role.VIEWER
    template_name = "registration/otp_setup.html"

    def _refuse_reenrol(self, request):
        if is_enrolled(request.user) and not _verified(request.user):
            return HttpResponseRedirect(f"{VERIFY_URL}?next={SETUP_URL}")
        return None

    def _page(self, request, device, *, error: str = "", status: int = 200):
        uri = device.config_url
        context = {
            "secret": b32encode(device.bin_key).decode(),
            "otpauth_uri": uri,
            "qr_svg": mark_safe(segno.make(uri, error="m").svg_inline(scale=4)),  # noqa: S308
            "next": _next_url(request),
            "error": error,
            "required": mfa_required(request.user),
            "enrolled": is_enrolled(request.user),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        refused = self._refuse_reenrol(request)
        if refused is not None:
            return refused
        return self._page(request, mfa_totp_begin(user=request.user))

    def post(self, request):
        refused = self._refuse_reenrol(request)
        if refused is not None:
            return refused
        device = mfa_totp_begin(user=request.user)
        try:
            codes = mfa_totp_confirm(
                user=request.user, device=device, code=request.POST.get("otp", "")
            )
        except ValidationFailed as exc:
            return self._page(request, device, error=exc.message, status=400)
        django_otp.login(request, device)
        return render(
            request,
            "registration/otp_recovery_codes.html",
            {"codes": codes, "next": _next_url(request), "enrolled_now": True},
        )


class OtpRecoveryCodesView(RoleRequiredMixin, View):
    """How many recovery codes are left, and a fresh set (the old ones stop working)."""

    required_role = Role.VIEWER
    template_name = "registration/otp_recovery_codes.html"

    def get(self, request):
        if not is_enrolled(request.user):
            return HttpResponseRedirect(SETUP_URL)
        left = mfa_recovery_codes_left(user=request.user)
        return render(request, self.template_name, {"left": left, "next": "/"})

    def post(self, request):
        if not is_enrolled(request.user):
            return HttpResponseRedirect(SETUP_URL)
        if not _verified(request.user):
            return HttpResponseRedirect(f"{VERIFY_URL}?next={request.path}")
        codes = mfa_recovery_codes_generate(user=request.user, actor=request.user)
        return render(request, self.template_name, {"codes": codes, "next": "/"})


class AuditedSetPasswordForm(SetPasswordForm):
    """The new password from a reset link, set through the services (audited; lockout lifted)."""

    def save(self, commit=True):
        user_password_reset(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class PasswordResetView(auth_views.PasswordResetView):
    """The reset link points at SITE_URL, never at the Host the request named: a forged Host
    header must not send a user's reset token to another site."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form):
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["timeout_hours"] = settings.PASSWORD_RESET_TIMEOUT // 3600
        return context


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = AuditedSetPasswordForm
