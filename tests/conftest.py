import io

import pytest
from rest_framework.test import APIClient

from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_create
from tests.trading.factories import AccountFactory, InstrumentFactory, ReferencePriceFactory

PASSWORD = "correct-horse-battery"
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright downloads no browser of its own


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark each test by what it drives, from the fixtures it uses (so that no test can forget
    its mark): `browser` for a headless Chromium, `live` for a live server. `make test-fast`
    leaves both out, with the `slow` ones."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "live_server" in fixtures:
            item.add_marker(pytest.mark.live)


@pytest.fixture
def browser():
    """A headless Chromium driven by Playwright (helpers in tests/browser.py).

    Request it after the fixtures that fill the database: while Playwright's event loop runs in
    this thread, Django refuses ORM calls in it.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def pytest_sessionstart(session):
    """The system checks first, as Django's own test runner does: an error among them (an
    upward hook that nothing fills, core.E001) stops the run before any test."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", stdout=io.StringIO())
    except SystemCheckError as exc:
        pytest.exit(str(exc), returncode=1)


def _grant_every_account_to(user_ids) -> None:
    from apps.trading.models import Account, AccountEntitlement

    AccountEntitlement.objects.bulk_create(
        [
            AccountEntitlement(user_id=user_id, account_id=account_id)
            for user_id in user_ids
            for account_id in Account.objects.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


def _on_role_given(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "post_add" and not reverse:
        _grant_every_account_to([instance.pk])


def _on_account_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from django.contrib.auth.models import Group

        from apps.rbac.roles import ROLE_GROUPS

        users = Group.objects.filter(name__in=ROLE_GROUPS.values()).values_list("user", flat=True)
        _grant_every_account_to({u for u in users if u is not None})


@pytest.fixture(autouse=True)
def entitled_by_default():
    """Every test user with a role is entitled to every test account (whichever is made
    first), so that a test about something else need not grant its trader its account.
    Entitlement tests ask for `strict_entitlements`: then only what they grant holds."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_save

    from apps.trading.models import Account

    through = get_user_model().groups.through
    m2m_changed.connect(_on_role_given, sender=through, dispatch_uid="tests.entitled")
    post_save.connect(_on_account_created, sender=Account, dispatch_uid="tests.entitled")
    yield
    m2m_changed.disconnect(sender=through, dispatch_uid="tests.entitled")
    post_save.disconnect(sender=Account, dispatch_uid="tests.entitled")


def _commits_for_real(request) -> bool:
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        return True
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True)
def reference_cache_cleared():
    """Each test starts with an empty reference cache (apps.rbac.refcache): what an earlier
    test kept was rolled back with it."""
    from apps.rbac import refcache

    refcache.clear()


@pytest.fixture(autouse=True)
def audit_sequenced_at_once(request, monkeypatch):
    """Inside the one transaction a test runs in, nothing commits, so the sequencer's drain
    after each commit never runs: here it runs where the event is written instead, so that a
    test reads its events in the chain right after the action, as a client does after the
    commit. Tests that commit for real (transactional_db, live_server) keep the real after-commit
    drain; so do the query-count tests, which pin the writer's own statements, and the tests
    marked `audit_after_commit`, which look at events before the sequencer has placed them."""
    if (
        _commits_for_real(request)
        or any(n.startswith("django_assert") for n in request.fixturenames)
        or request.node.get_closest_marker("audit_after_commit")
    ):
        return
    from apps.audit import services
    from apps.audit.sequencer import audit_sequence

    monkeypatch.setattr(services, "sequence_after_commit", audit_sequence)


@pytest.fixture
def strict_entitlements(entitled_by_default):
    """Entitlements only as the test grants them (no default grants)."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_save

    from apps.trading.models import Account

    m2m_changed.disconnect(sender=get_user_model().groups.through, dispatch_uid="tests.entitled")
    post_save.disconnect(sender=Account, dispatch_uid="tests.entitled")


@pytest.fixture
def make_user(db):
    """make_user(Role.TRADER) -> a user holding that role (or no role with None)."""
    counter = {"n": 0}

    def make(role: Role | None = Role.VIEWER, username: str | None = None):
        counter["n"] += 1
        name = username or f"{role.slug if role else 'norole'}{counter['n']}"
        return user_create(username=name, password=PASSWORD, role=role)

    return make


@pytest.fixture
def api_client_for(make_user):
    """api_client_for(Role.TRADER) -> an APIClient authenticated with a real API token."""

    def make(role: Role | None = Role.VIEWER, user=None):
        user = user or make_user(role)
        _token, key = api_token_issue(user=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.user = user
        return client

    return make


@pytest.fixture
def account(db):
    return AccountFactory(code="ACC-T1")


@pytest.fixture
def instrument(db):
    instrument = InstrumentFactory(symbol="AAPL", isin="US0378331005")
    ReferencePriceFactory(instrument=instrument)
    return instrument


@pytest.fixture
def audit_transactional_db(transactional_db):
    """A transactional test database whose flush at the end may empty the audit tables.

    The append-only triggers refuse DELETE and TRUNCATE unless the purge gate is open: open it
    for pytest-django's flush.
    """
    yield
    from django.db import connection

    from apps.audit.models import AuditEvent, AuditPurgeGate, Checkpoint, MerkleLeaf

    if connection.vendor == "postgresql":
        # There the gate opens only through audit_purge_gate_open() and only for the
        # transaction that calls it: call it in the flush's own transaction, before its TRUNCATE.
        def open_for_flush(execute, sql, params, many, context):
            if sql.lstrip().upper().startswith("TRUNCATE"):
                connection.execute_wrappers.remove(open_for_flush)
                context["cursor"].execute("SELECT audit_purge_gate_open()")
            return execute(sql, params, many, context)

        connection.execute_wrappers.append(open_for_flush)
        return
    AuditPurgeGate.objects.update_or_create(pk=1, defaults={"open": True})
    # The flush empties tables in no fixed order: on SQLite (a trigger per row) it may empty
    # the gate before the guarded tables. Empty those now, while the gate is open.
    for model in (AuditEvent, MerkleLeaf, Checkpoint):
        model.objects.all().delete()


@pytest.fixture(autouse=True)
def _no_cached_halt_banner():
    """The halt banner caches the active kill switches for a moment; a test's switches are
    rolled back with it, so each test starts with nothing cached."""
    from django.core.cache import cache

    from apps.killswitch.selectors import ACTIVE_CACHE_KEY

    cache.delete(ACTIVE_CACHE_KEY)
