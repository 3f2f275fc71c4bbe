"""The door: big bodies (413), unknown fields (400 unknown_field), ASCII-only amounts, and the
headers every answer carries (Content-Security-Policy, Cache-Control: no-store)."""

import inspect
import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.core.serializers import StrictInputSerializer
from apps.rbac.roles import Role
from apps.trading.models import Order
from tests.conftest import PASSWORD

BIG = int(2.6 * 1024 * 1024)  # 2.6 MB: over Django's default DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)


def _api_routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from _api_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if route.startswith("api/"):
                yield route, entry.callback


def _concrete(route: str) -> str:
    """A path for a route: every parameter 1, a regex (the unknown-path catch-all) a name."""
    path = re.sub(r"<[^>]+>", "1", route)
    if path.startswith("^"):
        path = "api/no-such-endpoint/"
    return "/" + path


API_PATHS = sorted({_concrete(route) for route, _view in _api_routes(get_resolver().url_patterns)})


def _big_json() -> str:
    return json.dumps({"client_order_id": "x", "padding": "a" * BIG})


def test_the_walk_reaches_the_token_endpoint_and_the_orders():
    assert {"/api/v1/auth/token/", "/api/v1/orders/", "/api/v1/orders/1/fills/"} <= set(API_PATHS)


@pytest.mark.parametrize("path", API_PATHS)
def test_a_body_over_the_limit_is_413_on_every_json_endpoint(path, api_client_for):
    client = api_client_for(Role.ADMIN)
    for method in ("post", "put", "patch"):
        response = getattr(client, method)(path, _big_json(), content_type="application/json")
        assert response.status_code == 413, (path, method, response.status_code)
        body = response.json()
        assert body["error"]["code"] == "payload_too_large"
        assert body["error"]["details"]["limit_bytes"] == 2_621_440


def test_a_big_body_is_413_before_authentication(db):
    response = APIClient().post("/api/v1/auth/token/", _big_json(), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_big_form_post_to_a_page_is_413_too(client, db):
    response = client.post(
        "/accounts/login/",
        "username=x&password=" + "a" * BIG,
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 413
    assert b"larger than this server accepts" in response.content


def test_a_body_found_too_big_inside_a_view_is_413_not_500():
    """Should a body get past the middleware (no declared length), the API's exception
    handler answers Django's RequestDataTooBig with the same 413."""
    from django.core.exceptions import RequestDataTooBig

    from apps.core.api import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["error"]["code"] == "payload_too_large"


# --- unknown fields -----------------------------------------------------------------------------

ORDER = {
    "client_order_id": "door-1",
    "account": "ACC-T1",
    "instrument": "AAPL",
    "side": "buy",
    "order_type": "limit",
    "quantity": "10",
    "limit_price": "100",
}


def test_a_misspelt_field_is_400_and_stores_nothing(api_client_for, account, instrument):
    client = api_client_for(Role.TRADER)
    response = client.post("/api/v1/orders/", {**ORDER, "time_in_forse": "ioc"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field"
    assert error["details"] == {"time_in_forse": ["Unknown field."]}
    assert not Order.objects.exists()
    # The same order spelt right goes through the gate.
    assert client.post("/api/v1/orders/", ORDER, format="json").status_code == 201


def test_the_dry_run_refuses_unknown_fields_too(api_client_for, account, instrument):
    response = api_client_for(Role.TRADER).post(
        "/api/v1/pretrade/check/", {**ORDER, "extra": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"


def test_the_token_endpoint_refuses_unknown_fields(make_user):
    user = make_user(Role.TRADER)
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD, "ttl": "999d"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"


def test_a_kill_switch_with_an_unknown_field_is_refused(api_client_for):
    response = api_client_for(Role.RISK_MANAGER).post(
        "/api/v1/kill-switch/",
        {"scope": "firm", "state": "halted", "reason": "drill", "scop": "account"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"


def test_an_endpoint_without_a_body_refuses_one_with_fields(api_client_for, account, instrument):
    client = api_client_for(Role.TRADER)
    order_id = client.post("/api/v1/orders/", ORDER, format="json").json()["id"]
    response = client.post(f"/api/v1/orders/{order_id}/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"
    assert Order.objects.get(pk=order_id).status == "accepted"
    assert client.post(f"/api/v1/orders/{order_id}/cancel/").status_code == 200


def _write_views():
    seen = {}
    for route, view in _api_routes(get_resolver().url_patterns):
        cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
        if cls is None or not issubclass(cls, APIView):
            continue
        for method in ("post", "put", "patch"):
            if hasattr(cls, method):
                seen[f"{cls.__module__}.{cls.__qualname__}.{method}"] = (route, cls, method)
    return seen


WRITE_VIEWS = _write_views()


@pytest.mark.parametrize("name", sorted(WRITE_VIEWS))
def test_every_write_endpoint_reads_its_body_strictly(name):
    """Each write reads its body through a StrictInputSerializer, or takes none (refuse_body):
    a new endpoint cannot quietly drop what it does not know."""
    _route, cls, method = WRITE_VIEWS[name]
    # The method and those it may hand over to (super().post in a shared base).
    source = "".join(inspect.getsource(vars(c)[method]) for c in cls.__mro__ if method in vars(c))
    assert "Serializer(data=" in source or "refuse_body(request)" in source, name
    module = inspect.getmodule(cls)
    for _attr, value in inspect.getmembers(module) + inspect.getmembers(cls):
        if (
            inspect.isclass(value)
            and issubclass(value, serializers.Serializer)
            and "Input" in value.__name__
        ):
            assert issubclass(value, StrictInputSerializer), f"{name}: {value.__qualname__}"


# --- amounts: ASCII digits only ---------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["١٠", "1_0", "１０", "1,0", "10\u00a0000", "0x10"])
def test_an_amount_in_anything_but_ascii_digits_is_400(
    api_client_for, account, instrument, quantity
):
    response = api_client_for(Role.TRADER).post(
        "/api/v1/orders/", {**ORDER, "quantity": quantity}, format="json"
    )
    assert response.status_code == 400, quantity
    assert "quantity" in response.json()["error"]["details"]
    assert not Order.objects.exists()


def test_a_price_in_arabic_indic_digits_is_400(api_client_for, account, instrument):
    response = api_client_for(Role.TRADER).post(
        "/api/v1/orders/", {**ORDER, "limit_price": "١٠٠"}, format="json"
    )
    assert response.status_code == 400
    assert "limit_price" in response.json()["error"]["details"]


@pytest.mark.parametrize("quantity", ["10", "10.5", " 10 ", "1e1", "+10"])
def test_ordinary_amounts_still_pass(api_client_for, account, instrument, quantity):
    response = api_client_for(Role.TRADER).post(
        "/api/v1/pretrade/check/", {**ORDER, "quantity": quantity}, format="json"
    )
    assert response.status_code == 200, response.json()


# --- headers --------------------------------------------------------------------------------


def test_pages_and_api_answers_carry_csp_and_no_store(client, make_user, api_client_for):
    client.force_login(make_user(Role.VIEWER))
    page = client.get("/")
    api = api_client_for(Role.VIEWER).get("/api/v1/accounts/")
    for response in (page, api):
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy


def test_no_template_has_an_inline_script_or_style():
    """The policy allows scripts and styles from files only: a template with an inline script,
    an on* handler, a <style> element or a style attribute would break under it (a value a
    style needs goes in a data- attribute: static/js/page.js applies data-bar-width)."""
    from pathlib import Path

    from django.conf import settings

    inline = re.compile(
        r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>"
        r"|\son[a-z]+\s*=\s*[\"']"
        r"|<style\b"
        r"|\sstyle\s*=\s*[\"']",
        re.IGNORECASE,
    )
    offenders = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        found = inline.search(template.read_text())
        if found:
            offenders.append(f"{template}: {found.group(0)}")
    assert offenders == []


def test_the_api_docs_page_loads_its_script_from_a_file(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html), "an inline script"


def test_the_openapi_description_says_request_bodies_are_closed(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemas = schema["components"]["schemas"]
    requests = {name: s for name, s in schemas.items() if name.endswith("Request")}
    assert "OrderInputRequest" in requests and "TokenObtainInputRequest" in requests
    assert all(s.get("additionalProperties") is False for s in requests.values())
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {"401", "413"} <= set(token["responses"])
    assert "otp" in schemas["TokenObtainInputRequest"]["properties"]
