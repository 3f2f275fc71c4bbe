"""Recording: every change writes its event in the same transaction, and the chain holds."""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify
from apps.audit.sequencer import audit_placed
from apps.audit.services import GENESIS_HASH, AuditPayloadError, audit_record, update_audited
from apps.core.errors import ValidationFailed
from apps.rbac.roles import Role
from apps.rbac.services import api_token_issue, user_role_set
from apps.trading.models import Account
from apps.trading.services import account_update, order_cancel, order_create, order_fill
from tests.conftest import PASSWORD


def events(event_type=None):
    qs = AuditEvent.objects.order_by("seq")
    if event_type:
        qs = qs.filter(event_type=event_type)
    return [json.loads(e.record) for e in qs]


def test_first_event_links_to_genesis_and_hash_covers_record(db):
    row = audit_placed(
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="test", payload={"a": "1"})
    )
    record = json.loads(row.record)
    assert (row.seq, record["seq"], record["prev_hash"]) == (1, 1, GENESIS_HASH)
    assert hashlib.sha256(row.record.encode()).hexdigest() == row.hash
    assert set(record) == {
        "seq",
        "occurred_at",
        "event_type",
        "actor_type",
        "actor",
        "actor_token",
        "ip",
        "user_agent",
        "request_id",
        "object_type",
        "object_id",
        "payload",
        "regulatory",
        "retention_class",
        "prev_hash",
    }
    assert record["occurred_at"].endswith("Z")


def test_chain_is_contiguous_and_linked(db):
    for n in range(5):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="test", payload={"n": n})
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert json.loads(rows[0].record)["prev_hash"] == GENESIS_HASH
    for before, after in zip(rows, rows[1:], strict=False):
        assert json.loads(after.record)["prev_hash"] == before.hash
    assert audit_verify().ok


def test_order_life_is_audited(account, instrument, make_user):
    trader = make_user(Role.TRADER)
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="o1",
        side="buy",
        order_type="limit",
        quantity="10",
        limit_price="100",
        submitted_by=trader,
        metadata={"strategy": "s1"},
    )
    order_fill(
        order=order,
        exec_id="x1",
        quantity="4",
        price="99",
        venue="XNYS",
        executed_at=timezone.now(),
        liquidity="added",
        actor=trader,
    )
    order_cancel(order=order, actor=trader)
    submitted = events(EventType.ORDER_SUBMITTED)[-1]
    assert submitted["actor"] == trader.username and submitted["actor_type"] == "user"
    assert submitted["payload"]["order"]["quantity"] == "10"
    assert submitted["payload"]["metadata"] == {"strategy": "s1"}
    filled = events(EventType.ORDER_FILLED)[-1]
    assert filled["payload"]["fill"]["price"] == "99"
    position = events(EventType.POSITION_CHANGED)[-1]
    assert position["payload"]["before"]["quantity"] == "0"
    assert position["payload"]["after"]["quantity"] == "4"
    assert events(EventType.ORDER_CANCELED)[-1]["object_id"] == str(order.pk)
    assert audit_verify().ok


def test_role_change_is_audited_with_before_and_after(make_user):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.TRADER)
    user_role_set(user=user, role=Role.RISK_MANAGER, actor=admin)
    change = events(EventType.CONFIG_CHANGED)[-1]
    assert change["actor"] == admin.username
    assert change["payload"]["before"] == {"role": "trader"}
    assert change["payload"]["after"] == {"role": "risk_manager"}


def test_config_change_keeps_before_and_after(account, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    account_update(account=account, actor=officer, credit_limit="250000", name=account.name)
    change = events(EventType.CONFIG_CHANGED)[-1]
    assert change["object_type"] == "trading.account"
    assert change["payload"]["before"] == {"credit_limit": "1000000"}
    assert change["payload"]["after"] == {"credit_limit": "250000"}


def test_token_issue_and_logins_are_system_access(make_user, client):
    user = make_user(Role.VIEWER)
    api_token_issue(user=user, name="oms")
    client.post("/accounts/login/", {"username": user.username, "password": "nope"})
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    access = [e["payload"]["action"] for e in events(EventType.SYSTEM_ACCESS)]
    assert access[-3:] == ["token_issued", "login_failed", "login"]
    failed = events(EventType.SYSTEM_ACCESS)[-2]
    assert "nope" not in json.dumps(failed)
    assert failed["ip"] == "127.0.0.1"


def test_api_changes_name_the_token(api_client_for):
    client = api_client_for(Role.VIEWER)
    client.post("/api/v1/auth/token/revoke/")
    revoked = events(EventType.SYSTEM_ACCESS)[-1]
    assert revoked["payload"]["action"] == "token_revoked"
    assert revoked["actor_type"] == "token" and revoked["actor_token"] == "test"
    assert revoked["request_id"]


@pytest.mark.parametrize(
    "payload",
    [{"price": 1.5}, {"nested": {"x": [1, float("nan")]}}, {"big": 2**60}, {1: "key"}],
)
def test_payload_outside_the_model_is_refused(db, payload):
    before = AuditEvent.objects.count()
    with pytest.raises(AuditPayloadError) as excinfo:
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload=payload)
    assert "payload" in str(excinfo.value.details)
    assert AuditEvent.objects.count() == before


def test_unknown_event_type_is_refused(db):
    with pytest.raises(AuditPayloadError):
        audit_record(event_type="SOMETHING_ELSE", actor="t")


def test_a_crash_after_the_change_leaves_neither(account, instrument):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        order_create(
            account=account,
            instrument=instrument,
            client_order_id="c",
            side="buy",
            order_type="market",
            quantity="1",
        )
        raise RuntimeError("crash after the change, before commit")
    assert AuditEvent.objects.count() == before
    assert not account.orders.exists()


def test_a_failing_event_undoes_the_change(account, instrument):
    with pytest.raises(AuditPayloadError):
        order_create(
            account=account,
            instrument=instrument,
            client_order_id="c",
            side="buy",
            order_type="market",
            quantity="1",
            audit_extra={"bad": 0.1},
        )
    assert not account.orders.exists()


def test_float_metadata_is_a_400_kind_of_error(account, instrument):
    from apps.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as excinfo:
        order_create(
            account=account,
            instrument=instrument,
            client_order_id="c",
            side="buy",
            order_type="market",
            quantity="1",
            metadata={"risk_score": 0.42},
        )
    assert "metadata.risk_score" in str(excinfo.value.details)


def test_verify_and_export_commands(db, tmp_path, capsys):
    for n in range(3):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
    call_command("verify_audit")
    assert capsys.readouterr().out.startswith("NOT WITNESSED:")
    out = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(out))
    lines = out.read_text().splitlines()
    assert json.loads(lines[-1])["event_type"] == "DATA_ACCESS"
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))


def test_admin_changes_go_through_services_and_are_audited(client, make_user, account):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    data = {
        "code": account.code,
        "name": "Renamed Ltd",
        "beneficial_owner": account.beneficial_owner_id,
        "is_active": "on",
        "base_currency": "USD",
        "credit_limit": "5000",
        "lei": "",
        "trading_capacity": "DEAL",
        "client_category": "retail",
        "webhook_url": "",
        "webhook_secret": "",
    }
    response = client.post(f"/admin/trading/account/{account.pk}/change/", data)
    assert response.status_code == 302, response.content[:800]
    renamed, proposed = events(EventType.CONFIG_CHANGED)[-2:]
    assert renamed["actor"] == officer.username
    assert renamed["payload"]["before"] == {"name": account.name}
    assert renamed["payload"]["after"] == {"name": "Renamed Ltd"}
    # The credit limit is proposed (maker-checker), not changed.
    assert proposed["actor"] == officer.username
    assert proposed["payload"]["stage"] == "proposed"
    assert proposed["payload"]["before"] == {"credit_limit": "1000000"}
    assert proposed["payload"]["proposed"] == {"credit_limit": "5000"}


def test_admin_user_edits_are_audited(client, make_user):
    admin = make_user(Role.ADMIN)
    target = make_user(Role.VIEWER)
    client.force_login(admin)
    response = client.post(
        f"/admin/auth/user/{target.pk}/change/",
        {
            "username": target.username,
            "first_name": "",
            "last_name": "",
            "email": "new@example.com",
            "is_active": "on",
            "role": "viewer",
        },
    )
    assert response.status_code == 302
    change = events(EventType.CONFIG_CHANGED)[-1]
    assert change["payload"]["change"] == "user_updated"
    assert change["payload"]["after"] == {"email": "new@example.com"}


def test_schedule_changes_in_the_admin_are_audited(client, make_user):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=60, period="seconds")
    task = PeriodicTask.objects.create(name="job", task="core.heartbeat", interval=every)
    client.force_login(make_user(Role.ADMIN))
    response = client.post(
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/",
        {
            "name": "job",
            "regtask": "core.heartbeat",
            "task": "",
            "enabled": "",
            "interval": every.pk,
            "args": "[]",
            "kwargs": "{}",
            "expire_seconds": "",
            "queue": "",
            "exchange": "",
            "routing_key": "",
            "priority": "",
            "headers": "{}",
            "description": "",
            "one_off": "",
            "start_time_0": "",
            "start_time_1": "",
            "last_run_at_0": "",
            "last_run_at_1": "",
            "expires_0": "",
            "expires_1": "",
        },
    )
    assert response.status_code == 302, response.content[:1500]
    change = events(EventType.CONFIG_CHANGED)[-1]
    assert change["object_type"] == "django_celery_beat.periodictask"
    assert change["payload"]["before"]["enabled"] is True
    assert change["payload"]["after"]["enabled"] is False


def test_update_audited_records_what_changed_or_nothing(account, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    count = AuditEvent.objects.count()
    same = update_audited(
        Account.objects.get(pk=account.pk), changes={"name": account.name}, actor=officer
    )
    assert same.name == account.name and AuditEvent.objects.count() == count

    with pytest.raises(ValidationFailed) as refused:
        update_audited(account, changes={"pk": 1}, actor=officer, allowed=["name"])
    assert refused.value.details == {"pk": ["Cannot be changed here."]}
    with pytest.raises(ValidationFailed):
        update_audited(account, changes={"base_currency": "dollars"}, actor=officer)
    assert Account.objects.get(pk=account.pk).base_currency == "USD"
    assert AuditEvent.objects.count() == count

    update_audited(
        Account.objects.get(pk=account.pk),
        changes={"name": "Renamed Ltd", "lei": ""},
        actor=officer,
        payload={"change": "updated"},
    )
    change = events(EventType.CONFIG_CHANGED)[-1]
    assert change["object_type"] == "trading.account"
    assert change["payload"] == {
        "change": "updated",
        "before": {"name": account.name},
        "after": {"name": "Renamed Ltd"},
    }
    assert Account.objects.get(pk=account.pk).name == "Renamed Ltd"
