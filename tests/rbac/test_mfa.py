"""The second factor (TOTP) for the roles in MFA_REQUIRED_ROLES: pages, the admin, token issue,
enrolment and recovery codes. Codes are computed as an authenticator app would
(django_otp.oath.totp over the device's secret)."""

import json
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.rbac.mfa import parse_roles
from apps.rbac.models import ApiToken
from apps.rbac.roles import Role
from apps.rbac.services import mfa_recovery_codes_generate
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def mfa_roles(settings):
    settings.MFA_REQUIRED_ROLES = ["risk", "compliance", "admin"]
    return settings.MFA_REQUIRED_ROLES


def code_for(device, drift: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _token(username, otp=None, password=PASSWORD):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return APIClient().post(TOKEN_URL, body, format="json")


def _access_actions(user) -> list[str]:
    events = AuditEvent.objects.filter(event_type="SYSTEM_ACCESS", object_id=str(user.pk))
    return [json.loads(e.record)["payload"].get("action") for e in events.order_by("seq")]


def test_role_names_read_as_the_design_writes_them():
    assert parse_roles(["risk", "compliance", "admin"]) == {
        Role.RISK_MANAGER,
        Role.COMPLIANCE_OFFICER,
        Role.ADMIN,
    }
    assert parse_roles(["trader", " compliance_officer ", ""]) == {
        Role.TRADER,
        Role.COMPLIANCE_OFFICER,
    }


# --- token issue -------------------------------------------------------------------------------


def test_a_staff_token_needs_the_code(mfa_roles, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    device = enrolled(user)

    missing = _token(user.username)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "otp_required"

    wrong = _token(user.username, "000000" if code_for(device) != "000000" else "111111")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "otp_invalid"
    assert not ApiToken.objects.exists()

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    good = _token(user.username, code_for(device))
    assert good.status_code == 201, good.json()
    assert ApiToken.objects.filter(user=user).count() == 1
    assert "mfa_passed" in _access_actions(user)


def test_a_code_works_once(mfa_roles, make_user):
    user = make_user(Role.RISK_MANAGER)
    device = enrolled(user)
    code = code_for(device)
    assert _token(user.username, code).status_code == 201
    replay = _token(user.username, code)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "otp_invalid"


def test_guessing_is_throttled(mfa_roles, make_user):
    user = make_user(Role.ADMIN)
    device = enrolled(user)
    right = code_for(device)
    wrong = "000000" if right != "000000" else "111111"
    assert _token(user.username, wrong).status_code == 401
    # Straight after a miss the device refuses even the right code for a while.
    assert _token(user.username, right).json()["error"]["code"] == "otp_invalid"
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_a_recovery_code_stands_in_once(mfa_roles, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    enrolled(user)
    codes = mfa_recovery_codes_generate(user=user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert _token(user.username, codes[0]).status_code == 201
    assert StaticToken.objects.filter(device__user=user).count() == 9
    StaticDevice.objects.filter(user=user).update(throttling_failure_count=0)
    assert _token(user.username, codes[0]).status_code == 401


def test_not_enrolled_is_told_where_to_enrol(mfa_roles, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    response = _token(user.username, "123456")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "otp_not_enrolled"
    assert "/accounts/otp/setup/" in response.json()["error"]["message"]


def test_the_password_is_checked_before_the_code(mfa_roles, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    device = enrolled(user)
    response = _token(user.username, code_for(device), password="wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_roles_outside_the_setting_need_no_code(mfa_roles, make_user):
    for role in (Role.VIEWER, Role.TRADER):
        assert _token(make_user(role).username).status_code == 201


def test_with_the_setting_empty_nobody_needs_a_code(settings, make_user):
    settings.MFA_REQUIRED_ROLES = []
    user = make_user(Role.ADMIN)
    enrolled(user)
    assert _token(user.username).status_code == 201


# --- pages and the admin ----------------------------------------------------------------------


def _sign_in(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def test_enrolment_at_first_sign_in(mfa_roles, client, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    _sign_in(client, user)

    held = client.get("/approvals/")
    assert held.status_code == 302
    assert held["Location"].startswith("/accounts/otp/setup/?next=/approvals/")

    page = client.get(held["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert device.config_url in html.replace("&amp;", "&")
    assert "otpauth://totp/" in html and "<svg" in html
    secret = re.search(r'class="otp-secret">([A-Z2-7]+)<', html).group(1)
    assert len(secret) == 32

    wrong = client.post("/accounts/otp/setup/", {"otp": "12345x", "next": "/approvals/"})
    assert wrong.status_code == 400
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is False
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    done = client.post("/accounts/otp/setup/", {"otp": code_for(device), "next": "/approvals/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
    # Passed in this session: the page opens.
    assert client.get("/approvals/").status_code == 200
    actions = _access_actions(user)
    assert {"mfa_enrolment_started", "mfa_enrolled", "mfa_recovery_codes_issued"} <= set(actions)
    trail = "".join(AuditEvent.objects.values_list("record", flat=True))
    assert not any(code in trail for code in codes)


def test_next_sign_in_asks_for_the_code(mfa_roles, client, make_user):
    user = make_user(Role.RISK_MANAGER)
    device = enrolled(user)
    _sign_in(client, user)

    held = client.get("/kill-switch/")
    assert held.status_code == 302
    assert held["Location"] == "/accounts/otp/?next=/kill-switch/"
    assert client.get("/accounts/otp/").status_code == 200

    wrong = client.post("/accounts/otp/", {"otp": "abcdef", "next": "/kill-switch/"})
    assert wrong.status_code == 400
    assert client.get("/kill-switch/").status_code == 302
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    ok = client.post("/accounts/otp/", {"otp": code_for(device), "next": "/kill-switch/"})
    assert ok.status_code == 302 and ok["Location"] == "/kill-switch/"
    assert client.get("/kill-switch/").status_code == 200


def test_the_next_address_stays_on_this_site(mfa_roles, client, make_user):
    user = make_user(Role.RISK_MANAGER)
    device = enrolled(user)
    _sign_in(client, user)
    ok = client.post("/accounts/otp/", {"otp": code_for(device), "next": "https://evil.test/"})
    assert ok["Location"] == "/"


def test_the_admin_is_held_too(mfa_roles, client, make_user):
    user = make_user(Role.ADMIN)
    device = enrolled(user)
    _sign_in(client, user)
    held = client.get("/admin/auth/user/")
    assert held.status_code == 302
    assert held["Location"].startswith("/accounts/otp/?next=/admin/auth/user/")
    client.post("/accounts/otp/", {"otp": code_for(device)})
    assert client.get("/admin/auth/user/").status_code == 200


def test_the_api_in_an_unverified_session_is_403(mfa_roles, client, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    device = enrolled(user)
    _sign_in(client, user)
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"
    client.post("/accounts/otp/", {"otp": code_for(device)})
    assert client.get("/api/v1/accounts/").status_code == 200


@pytest.mark.parametrize("header", ["Bearer x", "Basic Zm9vOmJhcg==", "Token"])
@pytest.mark.parametrize("path", ["/admin/auth/user/", "/api/v1/audit/events/"])
def test_another_authorization_header_does_not_skip_the_factor(
    mfa_roles, client, make_user, header, path
):
    user = make_user(Role.ADMIN)
    enrolled(user)
    _sign_in(client, user)
    response = client.get(path, HTTP_AUTHORIZATION=header)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/otp/")


def test_the_api_never_takes_an_unverified_staff_session(mfa_roles, rf, make_user):
    """Behind the middleware too: the API's session authentication ignores such a session."""
    from django.contrib.sessions.middleware import SessionMiddleware
    from django_otp.middleware import OTPMiddleware
    from rest_framework.request import Request

    from apps.rbac.authentication import VerifiedSessionAuthentication

    user = make_user(Role.COMPLIANCE_OFFICER)
    enrolled(user)
    request = rf.get("/api/v1/accounts/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    OTPMiddleware(lambda r: None)(request)
    request._dont_enforce_csrf_checks = True
    assert VerifiedSessionAuthentication().authenticate(Request(request)) is None


def test_a_token_dies_when_its_users_role_changes(mfa_roles, make_user):
    from apps.rbac.services import user_role_set

    trader = make_user(Role.TRADER)
    issued = _token(trader.username)
    assert issued.status_code == 201, issued.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")
    assert client.get("/api/v1/auth/me/").status_code == 200
    user_role_set(user=trader, role=Role.COMPLIANCE_OFFICER, actor=None)
    # the token was issued without the second factor a Compliance Officer needs
    assert client.get("/api/v1/audit/events/").status_code == 401


def test_a_trader_is_not_held(mfa_roles, client, make_user):
    _sign_in(client, make_user(Role.TRADER))
    assert client.get("/").status_code == 200


def test_re_enrolling_needs_the_factor_first(mfa_roles, client, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    enrolled(user)
    _sign_in(client, user)
    response = client.get("/accounts/otp/setup/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/?")
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()


def test_recovery_codes_signs_in_and_can_be_renewed(mfa_roles, client, make_user):
    user = make_user(Role.COMPLIANCE_OFFICER)
    enrolled(user)
    codes = mfa_recovery_codes_generate(user=user)
    _sign_in(client, user)
    ok = client.post("/accounts/otp/", {"otp": codes[3], "next": "/"})
    assert ok.status_code == 302
    page = client.get("/accounts/otp/recovery-codes/")
    assert b"9 unused recovery codes" in page.content
    renewed = client.post("/accounts/otp/recovery-codes/")
    fresh = re.findall(r"<li><code>([^<]+)</code></li>", renewed.content.decode())
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert StaticToken.objects.filter(device__user=user).count() == 10


def test_an_admin_removes_a_lost_device_and_it_is_audited(settings, client, make_user):
    settings.MFA_REQUIRED_ROLES = []
    user = make_user(Role.COMPLIANCE_OFFICER)
    device = enrolled(user)
    admin = make_user(Role.ADMIN)
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    url = f"/admin/otp_totp/totpdevice/{device.pk}/delete/"
    assert client.get(url).status_code == 403
    client.force_login(admin)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert "mfa_device_removed" in _access_actions(user)


def test_enrolment_pages_need_a_sign_in(client, db):
    for url in ("/accounts/otp/", "/accounts/otp/setup/", "/accounts/otp/recovery-codes/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_enrolment_needs_a_role(client, make_user):
    from tests.permissions import assert_page_role_required

    assert_page_role_required(client, make_user, "/accounts/otp/setup/", Role.VIEWER)
    client.force_login(make_user(None))
    for url in ("/accounts/otp/", "/accounts/otp/recovery-codes/"):
        assert client.get(url).status_code == 403
        assert client.post(url, {"otp": "123456"}).status_code == 403
