"""The upward hooks: each declared once, filled once, and the start-up check names an empty one."""

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.approvals import hooks as approval_hooks
from apps.approvals.services import approval_close_for_order
from apps.audit.services import audit_record
from apps.changes.roles import user_role_propose
from apps.core import hooks
from apps.notifications import hooks as notification_hooks
from apps.notifications.secrets import SecretUnavailable, resolve
from apps.notifications.services import audit_witness_send
from apps.reporting.services import report_mark_for_fill_change, report_mark_for_rerun
from apps.rules.approval_recheck import recheck_held_order
from apps.surveillance.selectors import account_open_alerts
from apps.trading import hooks as trading_hooks
from apps.trading.selectors import account_webhook_secret


@pytest.fixture
def scratch_registry(monkeypatch):
    """Hooks declared by a test leave the registry with it."""
    monkeypatch.setattr(hooks, "registry", dict(hooks.registry))


def declare_scratch(**options):
    @hooks.hook(filled_by="apps.scratch", **options)
    def scratch(*, order, reason: str = "") -> str:
        """A hook for this test only."""

    return scratch


def test_every_declared_hook_is_filled_once_the_apps_are_loaded():
    declared = {h.name: h.provider for h in hooks.declared()}
    assert declared == {
        "apps.core.hooks.audit_record": audit_record,
        "apps.notifications.hooks.account_webhook_secret": account_webhook_secret,
        "apps.trading.hooks.held_order_ended": approval_close_for_order,
        "apps.trading.hooks.fill_booked": report_mark_for_rerun,
        "apps.trading.hooks.fill_changed": report_mark_for_fill_change,
        "apps.approvals.hooks.recheck_held_order": recheck_held_order,
        "apps.approvals.hooks.account_open_alerts": account_open_alerts,
        "apps.rbac.hooks.user_role_propose": user_role_propose,
        "apps.audit.hooks.checkpoint_witness_send": audit_witness_send,
    }
    assert [m for m in run_checks() if m.id == "core.E001"] == []


def test_the_system_check_names_an_empty_hook(scratch_registry):
    scratch = declare_scratch()
    [error] = [m for m in run_checks() if m.id == "core.E001"]
    assert error.obj is scratch and str(error).startswith(f"{scratch.name}: (core.E001)")
    assert "apps.scratch" in error.hint
    with pytest.raises(SystemCheckError, match="scratch: \\(core.E001\\) Nothing fills this hook"):
        call_command("check")
    scratch.provide(lambda *, order, reason="": "done")
    call_command("check")


def test_an_empty_hook_fails_loudly(scratch_registry):
    scratch = declare_scratch()
    with pytest.raises(hooks.HookEmpty, match="apps.scratch"):
        scratch(order=1)


def test_an_empty_hook_does_what_its_declaration_says(scratch_registry):
    scratch = declare_scratch(when_empty=lambda *, order, reason="": "closed")
    assert scratch(order=1) == "closed"


def test_a_hook_is_filled_once(scratch_registry):
    scratch = declare_scratch()

    def first(*, order, reason=""):
        return "first"

    scratch.provide(first)
    scratch.provide(first)  # the same again (an app loaded twice) changes nothing
    with pytest.raises(ImproperlyConfigured, match="already filled by .*first"):
        scratch.provide(lambda *, order, reason="": "second")
    assert scratch(order=1, reason="why") == "first"


@pytest.mark.parametrize(
    "wrong",
    [
        lambda *, order: "no reason",  # cannot take an argument the declaration allows
        lambda *, order, reason, more: "more",  # needs one it does not pass
        lambda order, /, reason="": "positional",  # the declaration passes them by name
    ],
)
def test_a_provider_must_take_the_declared_arguments(scratch_registry, wrong):
    scratch = declare_scratch()
    with pytest.raises(ImproperlyConfigured, match="cannot fill the hook"):
        scratch.provide(wrong)
    assert not scratch.filled


def test_the_approval_recheck_fails_closed_when_empty(monkeypatch):
    monkeypatch.setattr(approval_hooks.recheck_held_order, "provider", None)
    [failure] = approval_hooks.recheck_held_order(order=None, user=None)
    assert failure["code"] == "recheck_unavailable" and failure["action"] == "reject"


def test_an_unfilled_secret_source_is_unavailable(monkeypatch):
    monkeypatch.setattr(notification_hooks.account_webhook_secret, "provider", None)
    with pytest.raises(SecretUnavailable, match="no signing key source for 'account'"):
        resolve("account:1")


def test_held_order_ended_fails_loudly_when_empty(monkeypatch):
    monkeypatch.setattr(trading_hooks.held_order_ended, "provider", None)
    with pytest.raises(hooks.HookEmpty, match="apps.approvals"):
        trading_hooks.held_order_ended(order=None, actor=None, reason="")
