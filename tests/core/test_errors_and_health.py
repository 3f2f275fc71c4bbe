"""The error contract, the probes, decimals and logs."""

import json
import logging
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.core.errors import ValidationFailed
from apps.core.logging import JsonFormatter
from apps.core.types import decimal_str, to_decimal


def test_healthz_is_open_and_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_reports_503_when_the_database_is_down(client, db, monkeypatch):
    from apps.core import views

    monkeypatch.setattr(views, "_database_ok", lambda: (False, "OperationalError"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"


def test_malformed_json_is_400_with_error_body(db):
    response = APIClient().post(
        "/api/v1/auth/token/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert response.json()["error"]["code"] == "parse_error"


def test_wrong_method_is_405_with_error_body(api_client_for):
    from apps.rbac.roles import Role

    response = api_client_for(Role.VIEWER).delete("/api/v1/accounts/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert made != "bad id with spaces" and len(made) == 32


@pytest.mark.parametrize(
    "value",
    [1.5, "NaN", "Infinity", "-inf", "abc", "", "1e30", "0.000000001", True, None],
)
def test_to_decimal_refuses_what_is_not_an_exact_amount(value):
    with pytest.raises(ValidationFailed):
        to_decimal(value, field="quantity")


def test_to_decimal_accepts_strings_and_ints():
    assert to_decimal("189.50", field="p") == Decimal("189.5")
    assert to_decimal(100, field="q", positive=True) == Decimal(100)
    with pytest.raises(ValidationFailed):
        to_decimal("0", field="q", positive=True)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("10.00000000"), "10"),
        (Decimal("0E-8"), "0"),
        (Decimal("-0.50"), "-0.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.00000001"), "0.00000001"),
    ],
)
def test_decimal_str_is_plain(value, text):
    assert decimal_str(value) == text


def test_logs_are_json_lines():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.order_id = 7
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["msg"] == "hello world" and parsed["order_id"] == 7 and parsed["level"] == "INFO"


def test_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/positions/" in schema.content
    assert client.get("/api/docs/").status_code == 200
