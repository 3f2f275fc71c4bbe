"""Helpers for the browser tests (the `browser` fixture itself is in tests/conftest.py): a
signed-in page and the live server's API, as a client would call it."""

import json
import urllib.request

PASSWORD = "browser-test-password-1"


def sign_in(browser, base: str, username: str, *, width: int = 1366, height: int = 860, **context):
    """A new page of a new browser context, signed in as `username` (password PASSWORD) and on
    the dashboard. `context` goes to `browser.new_context` (`accept_downloads=True`, say)."""
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def api(base: str, token: str, path: str, body: dict | None = None) -> dict:
    """GET (or POST with a body) the live server's API with an API token."""
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback
        return json.loads(response.read())
