"""API tokens: issued for a password, stored hashed, expire, revoke; failed logins lock."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.rbac.models import ApiToken
from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


def _login(client, username, password=PASSWORD):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_token_issued_for_good_credentials_and_stored_hashed(make_user):
    user = make_user(Role.TRADER)
    response = _login(APIClient(), user.username)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    token = ApiToken.objects.get(user=user)
    assert token.digest != body["token"] and len(token.digest) == 64
    assert body["token"] not in str(list(ApiToken.objects.values()))


def test_token_authenticates_requests(make_user):
    user = make_user(Role.VIEWER)
    key = _login(APIClient(), user.username).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 200
    assert response.json() == {"username": user.username, "role": "viewer"}


def test_wrong_password_is_401_with_error_body(make_user):
    user = make_user(Role.TRADER)
    response = _login(APIClient(), user.username, "wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_missing_fields_are_400(db):
    response = APIClient().post(TOKEN_URL, {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]


def test_user_without_role_gets_no_token(make_user):
    user = make_user(None)
    response = _login(APIClient(), user.username)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_role"


def test_expired_token_is_refused(make_user):
    user = make_user(Role.VIEWER)
    token, key = api_token_issue(user=user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/accounts/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Token expired."
    assert response["WWW-Authenticate"] == "Token"


def test_revoked_token_is_refused(api_client_for):
    client = api_client_for(Role.TRADER)
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    assert client.get("/api/v1/accounts/").status_code == 401


def test_garbage_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_inactive_user_token_is_refused(api_client_for):
    client = api_client_for(Role.TRADER)
    client.user.is_active = False
    client.user.save(update_fields=["is_active"])
    assert client.get("/api/v1/accounts/").status_code == 401


@pytest.mark.parametrize("limit", [5])
def test_repeated_failed_logins_lock_the_user(make_user, settings, limit):
    settings.AXES_FAILURE_LIMIT = limit
    user = make_user(Role.TRADER)
    client = APIClient()
    for _ in range(limit - 1):
        assert _login(client, user.username, "wrong").status_code == 401
    # The failure that reaches the limit locks the user.
    assert _login(client, user.username, "wrong").status_code == 429
    # Locked now: even the right password is refused, with a 429 and the error body.
    response = _login(client, user.username)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert not ApiToken.objects.exists()
    # Another user is not affected.
    other = make_user(Role.TRADER)
    assert _login(client, other.username).status_code == 201


def test_page_login_is_limited_too(make_user, client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user(Role.VIEWER)
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": user.username, "password": "x"})
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content


def test_page_login_works(make_user, client):
    user = make_user(Role.VIEWER)
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_token_dies_when_the_password_changes(make_user):
    from apps.rbac.services import user_password_set

    user = make_user(Role.TRADER)
    _token, key = api_token_issue(user=user, name="oms")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/auth/me/").status_code == 200
    user_password_set(user=user, password="a-new-long-password")
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "The password changed after this token was issued."
    )
    # A token issued after the change works.
    _token, fresh = api_token_issue(user=user, name="oms")
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.get("/api/v1/auth/me/").status_code == 200


def test_token_dies_when_the_password_is_changed_outside_the_services(make_user):
    """An admin's password form or `manage.py changepassword` saves the user directly."""
    user = make_user(Role.VIEWER)
    _token, key = api_token_issue(user=user, name="t")
    user.set_password("another-long-password")
    user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_token_dies_when_the_user_is_deactivated_through_the_service(make_user):
    from apps.rbac.services import user_update

    user = make_user(Role.TRADER)
    _token, key = api_token_issue(user=user, name="t")
    user_update(user=user, is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive."


def test_token_check_reads_the_password_in_the_same_statement(
    api_client_for, django_assert_num_queries
):
    client = api_client_for(Role.VIEWER)
    # The reference data's version, then the token, its user and role in one statement (with
    # the version again, in one batch on PostgreSQL); nothing is written.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        assert client.get("/api/v1/auth/me/").status_code == 200
    # Then the process's cache holds it: the version alone.
    with django_assert_num_queries(1):
        assert client.get("/api/v1/auth/me/").status_code == 200


def test_a_stranger_cannot_lock_a_user_out_from_elsewhere(make_user, settings):
    """Failures count per username AND address: five wrong passwords from one address lock
    that user at that address only."""
    settings.AXES_FAILURE_LIMIT = 5
    officer = make_user(Role.COMPLIANCE_OFFICER)
    stranger = APIClient(REMOTE_ADDR="203.0.113.9")
    for _ in range(4):
        assert _login(stranger, officer.username, "guess").status_code == 401
    assert _login(stranger, officer.username, "guess").status_code == 429
    # Locked from the stranger's address, even with the right password...
    assert _login(stranger, officer.username).status_code == 429
    # ...while the officer at their own desk signs in.
    desk = APIClient(REMOTE_ADDR="10.1.2.3")
    assert _login(desk, officer.username).status_code == 201


def test_a_page_login_lockout_is_per_address_too(make_user, settings):
    from django.test import Client

    settings.AXES_FAILURE_LIMIT = 3
    user = make_user(Role.VIEWER)
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        stranger.post("/accounts/login/", {"username": user.username, "password": "x"})
    locked = stranger.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    desk = Client(REMOTE_ADDR="10.1.2.3")
    response = desk.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
