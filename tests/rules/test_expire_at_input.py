"""`expire_at` at the door: a gtd order must name a future time with its offset; no other time in
force takes one. Each refusal is a 400 with the error body, on the order API and on the dry
run alike, and stores nothing."""

from datetime import timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ValidationFailed
from apps.core.time import rfc3339, utcnow
from apps.rbac.roles import Role
from apps.trading.models import Order
from apps.trading.services import order_create
from tests.rules.factories import order_body

URLS = ["/api/v1/orders/", "/api/v1/pretrade/check/"]


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def future(**delta) -> str:
    return rfc3339(utcnow() + timedelta(**delta))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time_in_force": "gtd"}, "A gtd order needs expire_at (RFC 3339)."),
        ({"time_in_force": "gtd", "expire_at": None}, "A gtd order needs expire_at (RFC 3339)."),
        (
            {"time_in_force": "gtd", "expire_at": "2020-01-02T21:00:00Z"},
            "Must be in the future.",
        ),
        (
            {"time_in_force": "day", "expire_at": "FUTURE"},
            "Only a gtd order takes expire_at; a day order expires at its session's close.",
        ),
        (
            {"time_in_force": "ioc", "expire_at": "FUTURE"},
            "Only a gtd order takes expire_at; a ioc order expires unfilled after the gate's "
            "grace.",
        ),
        (
            {"time_in_force": "gtc", "expire_at": "FUTURE"},
            "Only a gtd order takes expire_at; a gtc order expires never (until canceled).",
        ),
        (
            {"time_in_force": "gtd", "expire_at": "2099-01-02T21:00:00"},
            "Give the time with its UTC offset (RFC 3339), e.g. 2026-12-07T21:00:00Z.",
        ),
    ],
)
def test_a_wrong_expire_at_is_refused_and_nothing_is_stored(trader, overrides, message):
    overrides = {k: future(days=2) if v == "FUTURE" else v for k, v in overrides.items()}
    # None means "left out" to order_body: send an explicit null instead.
    body = order_body("gtd-bad", **{k: v for k, v in overrides.items() if v is not None})
    body.update({k: None for k, v in overrides.items() if v is None})
    events = AuditEvent.objects.count()
    for url in URLS:
        response = trader.post(url, body, format="json")
        assert response.status_code == 400, response.json()
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"] == {"expire_at": [message]}
    assert Order.objects.count() == 0 and AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-13-40T25:00:00Z", "9999-12-31T23:59:59-05:00", 1893456000, ["x"]]
)
def test_an_expire_at_that_is_not_a_time_is_refused(trader, value):
    body = order_body("gtd-junk", time_in_force="gtd", expire_at=value)
    response = trader.post(URLS[0], body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["expire_at"]
    assert Order.objects.count() == 0


def test_the_same_gtd_order_sent_twice_is_one_order(trader):
    when = future(days=2)
    first = trader.post(
        URLS[0], order_body("gtd-1", time_in_force="gtd", expire_at=when), format="json"
    )
    assert first.status_code == 201, first.json()
    # The same instant written with another offset is the same body.
    again = trader.post(
        URLS[0],
        order_body("gtd-1", time_in_force="gtd", expire_at=when.replace("Z", "+00:00")),
        format="json",
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    moved = trader.post(
        URLS[0], order_body("gtd-1", time_in_force="gtd", expire_at=future(days=3)), format="json"
    )
    assert moved.status_code == 409
    assert moved.json()["error"]["code"] == "client_order_id_reused"
    assert Order.objects.count() == 1


def test_a_day_order_sent_before_expiry_existed_still_replays(trader):
    """A day order's digest is what it was: no expire_at key is added to its body."""
    first = trader.post(URLS[0], order_body("day-1"), format="json")
    again = trader.post(URLS[0], {**order_body("day-1"), "expire_at": None}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_the_service_refuses_the_same_for_every_other_caller(account, instrument):
    common = {
        "account": account,
        "instrument": instrument,
        "client_order_id": "svc-1",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "limit_price": "100",
    }
    with pytest.raises(ValidationFailed) as missing:
        order_create(**common, time_in_force="gtd")
    assert missing.value.details == {"expire_at": ["A gtd order needs expire_at (RFC 3339)."]}
    with pytest.raises(ValidationFailed):
        order_create(**common, time_in_force="day", expire_at=utcnow() + timedelta(days=1))
    with pytest.raises(ValidationFailed):
        order_create(**common, time_in_force="gtd", expire_at=utcnow() - timedelta(seconds=1))
    assert Order.objects.count() == 0
