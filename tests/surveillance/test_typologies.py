"""The typologies added beside the original detectors, through the database: the watch list
(confidential, audited, a Compliance Officer's), whose accounts are whose, and trading ahead of
a list addition and of a client order found by the incremental run."""

import json
from datetime import timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.core.time import utcnow
from apps.rbac.roles import Role
from apps.rules.models import WatchListEntry
from apps.rules.services import watch_entry_add, watch_entry_end
from apps.surveillance.models import Alert
from apps.surveillance.runner import StreamContext, account_kind, surveillance_catch_up
from apps.trading.models import Account
from tests.permissions import assert_page_role_required
from tests.trading.factories import AccountFactory


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def test_the_watch_list_is_audited_and_a_compliance_officers(desk, officer, make_user):
    with pytest.raises(PermissionDenied):
        watch_entry_add(actor=make_user(Role.RISK_MANAGER), instrument=desk.aapl, reason="x")
    entry = watch_entry_add(actor=officer, issuer=" Apple Inc ", reason="Mandate: tender offer")
    assert entry.issuer == "Apple Inc" and entry.added_by == officer
    watch_entry_end(entry=entry, actor=officer)
    with pytest.raises(Conflict):
        watch_entry_end(entry=entry, actor=officer)
    events = [
        json.loads(e.record)["payload"]
        for e in AuditEvent.objects.filter(object_type="rules.watchlistentry").order_by("seq")
    ]
    assert [e["change"] for e in events] == ["watch_list_added", "watch_list_ended"]


def test_bad_watch_list_input_stores_nothing(db, officer):
    with pytest.raises(ValidationFailed) as refused:
        watch_entry_add(actor=officer, reason="")
    assert set(refused.value.details) == {"instrument", "reason"}
    start = utcnow() + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        watch_entry_add(
            actor=officer, issuer="Acme", reason="x", effective_from=start, effective_until=start
        )
    assert not WatchListEntry.objects.exists()
    assert not AuditEvent.objects.filter(object_type="rules.watchlistentry").exists()


@pytest.mark.parametrize(
    "url", ["/admin/rules/watchlistentry/", "/admin/rules/watchlistentry/add/"]
)
def test_the_watch_list_is_hidden_from_the_front_office(client, make_user, url):
    assert_page_role_required(client, make_user, url, Role.COMPLIANCE_OFFICER)


def test_the_watch_list_admin_adds_through_the_service(client, officer, desk):
    client.force_login(officer)
    response = client.post(
        "/admin/rules/watchlistentry/add/",
        {"instrument": desk.aapl.pk, "issuer": "", "reason": "Deal team wall-crossed"},
    )
    assert response.status_code == 302, response.content[:500]
    entry = WatchListEntry.objects.get()
    assert entry.added_by == officer
    assert AuditEvent.objects.filter(object_type="rules.watchlistentry").count() == 1


@pytest.mark.parametrize(
    ("maker", "holder", "capacity", "kind"),
    [
        (True, "", "DEAL", "market_maker"),
        (False, "O", "DEAL", "market_maker"),
        (False, "E", "DEAL", "staff"),
        (False, "P", "AOTC", "proprietary"),
        (False, "", "DEAL", "proprietary"),
        (False, "", "AOTC", "client"),
        (False, "I", "MTCH", "client"),
    ],
)
def test_whose_account_it_is(maker, holder, capacity, kind):
    assert account_kind(maker, holder, capacity) == kind


def test_the_context_reads_kinds_issuers_and_list_additions(desk, officer):
    Account.objects.filter(pk=desk.b.pk).update(trading_capacity="AOTC")
    desk.aapl.issuer = "Apple Inc"
    desk.aapl.save(update_fields=["issuer"])
    watch_entry_add(actor=officer, issuer="apple inc", reason="Mandate")
    context = StreamContext.from_database()
    assert context.account_kind("ACC-B") == "client"
    assert context.account_kind("ACC-T1") == "proprietary"
    assert context.symbols_of_issuer("APPLE INC ") == ["AAPL"]
    _, additions = context.list_additions()
    assert [(a[1], a[3], a[4]) for a in additions] == [("watch_list", "", "apple inc")]


def test_trading_ahead_of_a_watch_list_addition_is_found(desk, officer):
    desk.trade(desk.b, "buy", "3000")  # 300,000 in AAPL, all it traded
    watch_entry_add(actor=officer, instrument=desk.aapl, reason="Mandate: bid")
    desk.trade(desk.a1, "buy", "1", instrument=desk.msft, price="400")  # the day goes on
    surveillance_catch_up()
    alert = Alert.objects.get(detector="insider_dealing")
    assert alert.account.code == "ACC-B" and "watch list" in alert.title


def test_a_house_order_ahead_of_a_client_order_is_front_running(desk):
    client_account = AccountFactory(code="ACC-CL", trading_capacity="AOTC")
    big = desk.order(client_account, "buy", "5000")  # 500,000 waiting
    desk.trade(desk.a1, "buy", "100", price="100")  # the firm's own book, same side, after
    desk.fill(big)
    surveillance_catch_up()
    alert = Alert.objects.get(detector="front_running")
    assert "ACC-T1" in alert.title and f"#{big.pk}" in alert.title
    # the house trading the other way (facilitation) is not
    other = desk.order(client_account, "sell", "5000")
    desk.trade(desk.a1, "buy", "100", price="100")
    desk.fill(other)
    surveillance_catch_up()
    assert Alert.objects.filter(detector="front_running").count() == 1
