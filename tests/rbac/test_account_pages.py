"""The pages around signing in that people need: a password reset by email, a lockout an Admin
sees and lifts on the user's page (with a reason, audited), styled 403/404 pages, a favicon."""

import re

from django.core import mail
from django.test import Client

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from tests.conftest import PASSWORD


def _lock_out(user, settings, address="203.0.113.9") -> Client:
    settings.AXES_FAILURE_LIMIT = 3
    stranger = Client(REMOTE_ADDR=address)
    for _ in range(3):
        stranger.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    locked = stranger.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    return stranger


def _events(action: str) -> list[dict]:
    import json

    found = []
    for event in AuditEvent.objects.filter(event_type="SYSTEM_ACCESS"):
        payload = json.loads(event.record)["payload"]
        if payload.get("action") == action:
            found.append(payload)
    return found


# --- password reset ------------------------------------------------------------------------


def test_the_login_page_links_to_the_password_reset(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password-reset/"' in page


def test_a_password_reset_by_email_sets_a_new_password_once(db, client, make_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "http://testserver"
    user = make_user(Role.TRADER)
    user.email = "t.rader@example.com"
    user.save(update_fields=["email"])
    stranger = _lock_out(user, settings)

    answer = client.post("/accounts/password-reset/", {"email": "T.Rader@example.com"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["t.rader@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    assert user.username in mail.outbox[0].body

    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    short = client.post(set_url, {"new_password1": "abc", "new_password2": "abc"})
    assert short.status_code == 200 and "error-box" in short.content.decode()
    new = "a-much-better-passphrase-2026"
    done = client.post(set_url, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"

    user.refresh_from_db()
    assert user.check_password(new)
    # Audited, never with the password; the lockout is gone with the proof of the mailbox.
    (event,) = _events("password_reset")
    assert event["username"] == user.username and new not in str(event)
    after = stranger.post("/accounts/login/", {"username": user.username, "password": new})
    assert after.status_code == 302
    # The link works once.
    again = client.get(link, follow=True)
    assert "This link does not work" in again.content.decode()


def test_the_reset_link_points_at_the_site_not_at_the_requests_host(
    db, client, make_user, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://compliance.example.com"
    user = make_user(Role.TRADER)
    user.email = "t.rader@example.com"
    user.save(update_fields=["email"])
    client.post(
        "/accounts/password-reset/", {"email": user.email}, HTTP_HOST="attacker.example.net"
    )
    (sent,) = mail.outbox
    assert "attacker.example.net" not in sent.body
    assert "https://compliance.example.com/accounts/reset/" in sent.body


def test_an_unknown_address_gets_the_same_answer_and_no_mail(db, client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    answer = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


# --- lockouts on the user's page ------------------------------------------------------------


def test_an_admin_sees_a_lockout_on_the_users_page_and_lifts_it_with_a_reason(
    client, make_user, settings
):
    user = make_user(Role.COMPLIANCE_OFFICER)
    stranger = _lock_out(user, settings)
    admin_user = make_user(Role.ADMIN)
    client.force_login(admin_user)

    listing = client.get("/admin/auth/user/?q=" + user.username).content.decode()
    assert 'alt="True"' in listing  # the "locked" column
    page = client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert "203.0.113.9" in page and "LOCKED" in page
    lift = f"/admin/auth/user/{user.pk}/lift-lockout/"
    assert lift in page

    refused = client.post(lift, {"reason": "  "})
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    assert _events("lockout_lifted") == []
    done = client.post(lift, {"reason": "Called the officer back on the desk phone"})
    assert done.status_code == 302
    (event,) = _events("lockout_lifted")
    assert event["reason"] == "Called the officer back on the desk phone"
    assert event["addresses"] == ["203.0.113.9"]
    after = stranger.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert after.status_code == 302


def test_lifting_a_lockout_is_for_admins_only(client, make_user, settings):
    user = make_user(Role.TRADER)
    _lock_out(user, settings)
    lift = f"/admin/auth/user/{user.pk}/lift-lockout/"
    for role in (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER, Role.COMPLIANCE_OFFICER):
        client.force_login(make_user(role))
        answer = client.post(lift, {"reason": "let me in"})
        assert answer.status_code in (302, 403), role
        if answer.status_code == 302:
            assert "/login/" in answer["Location"], role
    assert _events("lockout_lifted") == []


# --- error pages and the icon ---------------------------------------------------------------


def test_a_refused_page_is_a_styled_403_that_says_what_to_do(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    answer = client.get("/approvals/")
    assert answer.status_code == 403
    page = answer.content.decode()
    assert "You cannot open this page" in page and 'class="topbar"' in page
    assert "ask an administrator" in page


def test_a_missing_page_is_a_styled_404_and_the_api_keeps_its_error_body(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert "Page not found" in answer.content.decode()
    api = client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_the_500_page_stands_alone(settings):
    from django.template.loader import get_template

    html = get_template("500.html").render({})
    assert "Something went wrong" in html and "favicon.svg" in html


def test_pages_have_a_favicon(client):
    assert "favicon.svg" in client.get("/accounts/login/").content.decode()
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301 and answer["Location"].endswith("favicon.svg")
