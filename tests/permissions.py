"""The reusable role test: every role below the required one is refused, the required one is not.

Use it for every endpoint and page:

    def test_positions_need_viewer(api_client_for):
        assert_api_role_required(api_client_for, "get", "/api/v1/positions/", Role.VIEWER)
"""

from rest_framework.test import APIClient

from apps.rbac.roles import Role, ServiceRole


def _refused(role) -> list:
    """Who must be refused where `role` is needed: no role, every rung below it, and the
    Feed service identity (off the ladder: it passes no ladder check); where Feed is needed,
    every person's role."""
    if isinstance(role, ServiceRole):
        return [None, *Role]
    return [None, *[r for r in Role if r < role], *ServiceRole]


def assert_api_role_required(
    api_client_for, method: str, url: str, role: Role | ServiceRole, data=None
) -> None:
    anonymous = getattr(APIClient(), method)(url, data, format="json")
    assert anonymous.status_code == 401, (url, anonymous.status_code)
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    for lower in _refused(role):
        response = getattr(api_client_for(lower), method)(url, data, format="json")
        assert response.status_code == 403, (url, lower, response.status_code)
        assert response.json()["error"]["code"] == "permission_denied"
    allowed = getattr(api_client_for(role), method)(url, data, format="json")
    assert allowed.status_code not in (401, 403), (url, role, allowed.status_code)


def assert_page_role_required(client, make_user, url: str, role: Role) -> None:
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], url
    for lower in _refused(role):
        client.force_login(make_user(lower))
        response = client.get(url)
        assert response.status_code in (302, 403), (url, lower, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"], (url, lower)
    client.force_login(make_user(role))
    assert client.get(url).status_code == 200, (url, role)
    client.logout()
