"""Order input: the serializer checks the shape, trading's `order_terms_check` the terms, every
error in one answer; the metadata is checked once per order."""

import pytest

from apps.audit.models import AuditEvent
from apps.rbac.roles import Role
from apps.rules import apis
from apps.trading import services
from apps.trading.models import Account, Order
from tests.rules.factories import order_body

URL = "/api/v1/orders/"


@pytest.fixture
def trader(api_client_for, account, instrument):
    return api_client_for(Role.TRADER)


def test_every_wrong_term_is_named_at_once_and_nothing_is_stored(trader, account):
    events = AuditEvent.objects.count()
    response = trader.post(
        URL, order_body(account="NOPE", instrument="NOPE", order_type="market"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": "Invalid input.",
        "details": {
            "account": ["Unknown account."],
            "instrument": ["Unknown instrument (give a symbol or an ISIN)."],
            "limit_price": ["A market order has no limit price."],
        },
    }
    Account.objects.filter(pk=account.pk).update(is_active=False)
    for url in (URL, "/api/v1/pretrade/check/"):
        response = trader.post(url, order_body(limit_price=None), format="json")
        assert response.json()["error"]["details"] == {
            "account": ["Account is not active."],
            "limit_price": ["A limit order needs a limit price."],
        }
    assert Order.objects.count() == 0 and AuditEvent.objects.count() == events


def test_metadata_is_checked_once_per_order(trader, monkeypatch):
    calls = []
    real = services.metadata_checked

    def counted(metadata):
        calls.append(metadata)
        return real(metadata)

    monkeypatch.setattr(apis, "metadata_checked", counted)
    monkeypatch.setattr(services, "metadata_checked", counted)
    assert trader.post(URL, order_body(), format="json").status_code == 201
    assert calls == [{"signal_id": "s1"}]
