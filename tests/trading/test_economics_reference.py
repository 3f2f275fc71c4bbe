"""The reference data behind every amount: an instrument's multiplier, an account's base
currency, FX rates (API, command, admin), and what bad values get: a 400 that stores nothing."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes.models import ConfigChange
from apps.changes.services import config_change_decide
from apps.core.errors import Conflict, ValidationFailed
from apps.rbac.roles import Role
from apps.trading.models import FxRate, Instrument, WorkingExposure
from apps.trading.services import (
    account_create,
    fx_rate_record,
    instrument_create,
    instrument_update,
    order_cancel,
    order_create,
)
from tests.permissions import assert_api_role_required
from tests.trading.factories import InstrumentFactory

URL = "/api/v1/fx-rates/"


# --- the multiplier ----------------------------------------------------------------------------


def test_instruments_show_their_multiplier(api_client_for):
    InstrumentFactory(symbol="ES-T", asset_class="future", multiplier=D("50"))
    InstrumentFactory(symbol="KO-T")
    rows = api_client_for(Role.VIEWER).get("/api/v1/instruments/").json()["results"]
    assert {r["symbol"]: r["multiplier"] for r in rows} == {"ES-T": "50", "KO-T": "1"}


def _instrument(**overrides):
    fields = {
        "symbol": "OPT-T",
        "isin": "US0378331005",
        "mic": "XCBO",
        "name": "A call",
        "asset_class": "option",
        "sector": "Technology",
        "currency": "USD",
    }
    return instrument_create(**{**fields, **overrides})


@pytest.mark.parametrize("bad", ["0", "-100", "abc", 100.0])
def test_a_multiplier_that_is_not_positive_is_400_and_stores_nothing(db, bad):
    with pytest.raises(ValidationFailed) as refused:
        _instrument(multiplier=bad)
    assert "multiplier" in refused.value.details
    assert not Instrument.objects.filter(symbol="OPT-T").exists()


def test_an_instrument_is_created_with_its_multiplier(db):
    assert _instrument(multiplier="100").multiplier == D("100")


@pytest.mark.parametrize("bad", ["XYZ", "usd", "US", ""])
def test_an_unknown_currency_is_400_and_stores_nothing(db, bad):
    with pytest.raises(ValidationFailed) as refused:
        _instrument(currency=bad)
    assert "currency" in refused.value.details
    if bad:  # an account given no currency takes the firm's
        with pytest.raises(ValidationFailed):
            account_create(code="ACC-X", name="X", beneficial_owner="X", base_currency=bad)
    assert not Instrument.objects.exists()


def test_an_account_takes_the_firm_currency_by_default(db, settings):
    settings.FIRM_CURRENCY = "EUR"
    assert account_create(code="ACC-D", name="D", beneficial_owner="D").base_currency == "EUR"


def test_a_new_contract_size_revalues_what_is_working(account):
    option = _instrument(multiplier="1")
    order_create(
        account=account,
        instrument=option,
        client_order_id="w-1",
        side="buy",
        order_type="limit",
        quantity="10",
        limit_price="2.5",
    )
    assert WorkingExposure.objects.get(instrument=option).buy_notional == D("25")
    instrument_update(instrument=option, multiplier="100")
    assert WorkingExposure.objects.get(instrument=option).buy_notional == D("2500")
    event = AuditEvent.objects.filter(object_type="trading.instrument").last()
    assert '"multiplier"' in event.record
    with pytest.raises(ValidationFailed):
        instrument_update(instrument=option, multiplier="0")
    assert Instrument.objects.get(pk=option.pk).multiplier == D("100")


def test_the_admin_refuses_a_zero_multiplier(client, make_user, instrument):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    url = f"/admin/trading/instrument/{instrument.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(multiplier="0", underlying="")
    page = client.post(url, data)
    assert page.status_code == 200  # the form again, with the error
    assert "multiplier" in page.context["adminform"].form.errors
    instrument.refresh_from_db()
    assert instrument.multiplier == 1
    data.update(multiplier="100")
    assert client.post(url, data).status_code == 302
    instrument.refresh_from_db()
    assert instrument.multiplier == 1  # proposed, not applied
    change = ConfigChange.objects.get(kind="instrument_economics", target_key="AAPL")
    assert (change.before, change.proposed) == ({"multiplier": "1"}, {"multiplier": "100"})
    config_change_decide(
        change=change, actor=make_user(Role.COMPLIANCE_OFFICER), approve=True, comment="ok"
    )
    instrument.refresh_from_db()
    assert instrument.multiplier == 100


# --- FX rates ----------------------------------------------------------------------------------


def test_fx_rates_need_viewer_to_read_and_risk_to_propose(api_client_for):
    assert_api_role_required(api_client_for, "get", URL, Role.VIEWER)
    body = {"base": "EUR", "quote": "USD", "rate": "1.085"}
    assert_api_role_required(api_client_for, "post", URL, Role.RISK_MANAGER, body)


def test_a_rate_is_proposed_then_recorded_on_approval_and_audited(api_client_for):
    risk = api_client_for(Role.RISK_MANAGER)
    as_of = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    response = risk.post(
        URL,
        {
            "base": "EUR",
            "quote": "USD",
            "rate": "1.085",
            "as_of": as_of.isoformat(),
            "source": "ecb",
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["target"], body["status"]) == ("fx_rate", "EUR/USD", "pending")
    assert body["proposed"]["rate"] == "1.085"
    assert not FxRate.objects.exists()
    checker = api_client_for(Role.RISK_MANAGER)
    approved = checker.post(
        f"/api/v1/changes/{body['id']}/approve/", {"comment": "ECB fixing"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    row = FxRate.objects.get()
    assert approved.json()["applied_id"] == str(row.pk)
    assert (row.base, row.quote, row.rate, row.as_of, row.source) == (
        "EUR",
        "USD",
        D("1.085"),
        as_of,
        "ecb",
    )
    event = AuditEvent.objects.get(object_type="trading.fxrate")
    assert event.event_type == "CONFIG_CHANGED" and event.actor == checker.user.username


@pytest.mark.parametrize(
    "bad",
    [
        {"base": "XYZ", "quote": "USD", "rate": "1.1"},
        {"base": "eur", "quote": "USD", "rate": "1.1"},
        {"base": "EUR", "quote": "EUR", "rate": "1"},
        {"base": "EUR", "quote": "USD", "rate": "0"},
        {"base": "EUR", "quote": "USD", "rate": "-1.1"},
        {"base": "EUR", "quote": "USD", "rate": 1.1},
        {"base": "EUR", "quote": "USD", "rate": "1.123456789"},
        {"base": "EUR", "quote": "USD", "rate": "NaN"},
        {"base": "EUR", "quote": "USD"},
        {"base": "EUR", "quote": "USD", "rate": "1.1", "as_of": "2999-01-01T00:00:00Z"},
        {"base": "EUR", "quote": "USD", "rate": "1.1", "as_of": "yesterday"},
        {"base": "EUR", "quote": "USD", "rate": "1.1", "as_of": "2026-11-20T16:00:00"},
        {"base": ["EUR"], "quote": "USD", "rate": "1.1"},
    ],
)
def test_a_bad_rate_is_400_and_stores_nothing(api_client_for, bad):
    response = api_client_for(Role.RISK_MANAGER).post(URL, bad, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert not FxRate.objects.exists()
    assert not ConfigChange.objects.exists()
    assert not AuditEvent.objects.filter(object_type="trading.fxrate").exists()


def test_rates_are_listed_latest_first_and_filtered(api_client_for):
    now = timezone.now()
    fx_rate_record(base="EUR", quote="USD", rate="1.08", as_of=now - timedelta(days=1))
    fx_rate_record(base="EUR", quote="USD", rate="1.09", as_of=now - timedelta(hours=1))
    fx_rate_record(base="GBP", quote="USD", rate="1.27", as_of=now - timedelta(hours=2))
    fx_rate_record(base="USD", quote="JPY", rate="151.2", as_of=now - timedelta(hours=3))
    viewer = api_client_for(Role.VIEWER)
    rows = viewer.get(URL).json()["results"]
    assert [r["rate"] for r in rows] == ["1.09", "1.27", "151.2", "1.08"]
    latest = viewer.get(URL, {"latest": "true", "quote": "USD"}).json()["results"]
    assert [(r["base"], r["rate"]) for r in latest] == [("EUR", "1.09"), ("GBP", "1.27")]
    usd = viewer.get(URL, {"currency": "JPY"}).json()["results"]
    assert [r["quote"] for r in usd] == ["JPY"]


def test_the_command_records_a_rate(db):
    call_command("record_fx_rate", "EUR", "USD", "1.085", "--source", "ecb")
    row = FxRate.objects.get()
    assert (row.base, row.quote, row.rate, row.source) == ("EUR", "USD", D("1.085"), "ecb")
    assert AuditEvent.objects.get(object_type="trading.fxrate").actor == "command:record_fx_rate"


def test_the_command_proposes_a_rate_typed_in_by_a_person(make_user):
    maker = make_user(Role.RISK_MANAGER)
    call_command("record_fx_rate", "EUR", "USD", "1.085", "--proposed-by", maker.username)
    assert not FxRate.objects.exists()
    change = ConfigChange.objects.get(kind="fx_rate")
    assert change.proposed_by == maker and change.proposed["rate"] == "1.085"
    with pytest.raises(CommandError):
        call_command("record_fx_rate", "EUR", "USD", "1.1", "--proposed-by", "nobody")
    with pytest.raises(CommandError):  # a trader may not propose rates
        call_command(
            "record_fx_rate", "EUR", "USD", "1.1", "--proposed-by", make_user(Role.TRADER).username
        )
    assert ConfigChange.objects.count() == 1


@pytest.mark.parametrize(
    "args", [("EUR", "XYZ", "1.1"), ("EUR", "USD", "0"), ("EUR", "USD", "1", "--as-of", "x")]
)
def test_the_command_refuses_a_bad_rate(db, args):
    with pytest.raises(CommandError):
        call_command("record_fx_rate", *args)
    assert not FxRate.objects.exists()


def test_the_admin_proposes_a_rate_for_risk_only(client, make_user):
    client.force_login(make_user(Role.TRADER))
    assert client.get("/admin/trading/fxrate/add/").status_code == 403
    maker = make_user(Role.RISK_MANAGER)
    client.force_login(maker)
    now = timezone.now()
    response = client.post(
        "/admin/trading/fxrate/add/",
        {
            "base": "EUR",
            "quote": "USD",
            "rate": "1.1",
            "as_of_0": now.strftime("%Y-%m-%d"),
            "as_of_1": now.strftime("%H:%M:%S"),
            "source": "desk",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert response["Location"] == "/admin/changes/configchange/"
    assert not FxRate.objects.exists()
    change = ConfigChange.objects.get(kind="fx_rate", target_key="EUR/USD")
    assert change.proposed_by == maker and change.proposed["source"] == "desk"
    config_change_decide(
        change=change, actor=make_user(Role.RISK_MANAGER), approve=True, comment="desk rate"
    )
    assert FxRate.objects.get().rate == D("1.1")
    assert AuditEvent.objects.filter(object_type="trading.fxrate").count() == 1


def test_the_currency_of_an_instrument_with_working_orders_stays(account):
    instrument = _instrument(symbol="CCY-T", currency="USD")
    order = order_create(
        account=account,
        instrument=instrument,
        client_order_id="ccy-1",
        side="buy",
        order_type="limit",
        quantity="1",
        limit_price="10",
    )
    with pytest.raises(Conflict) as refused:
        instrument_update(instrument=instrument, currency="EUR")
    assert refused.value.code == "instrument_has_working_orders"
    order_cancel(order=order)
    assert instrument_update(instrument=instrument, currency="EUR").currency == "EUR"
