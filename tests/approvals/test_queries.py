"""Statement ceilings on the approval path and the queue pages: each row is read once and the
pages do not grow with the queue.

Counted on SQLite, where the gate's batched reads run one by one and an audit append is three
statements; PostgreSQL sends each batch in one round trip and counts fewer. One hold rule, no
webhook on the account and no e-mail addresses (nothing to deliver).
"""

import pytest

from apps.rbac.roles import Role


@pytest.fixture
def queue(submit_held, officer):
    """Five held orders: two decided (one approved, one denied), three pending."""
    held = [submit_held(f"held-{n}")["approval"]["id"] for n in range(5)]
    for approval_id, decision in zip(held[:2], ("approve", "deny"), strict=True):
        response = decide(officer, approval_id, decision)
        assert response.status_code == 200, response.json()
    return held


@pytest.fixture
def officer_page(client, make_user):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    return client


def decide(client, approval_id: int, decision: str):
    return client.post(
        f"/api/v1/approvals/{approval_id}/{decision}/", {"comment": "Checked."}, format="json"
    )


def test_approve(officer, submit_held, django_assert_max_num_queries):
    approval_id = submit_held()["approval"]["id"]
    # token with its user's role, the request as the officer sees it; savepoint, the request
    # locked with its order, account and instrument; re-check: rule set version and the gate's
    # 6 reads; request and order updated; two audit events (3 each); release
    with django_assert_max_num_queries(20):
        response = decide(officer, approval_id, "approve")
    assert response.status_code == 200 and response.json()["order"]["status"] == "accepted"


def test_deny(officer, submit_held, django_assert_max_num_queries):
    approval_id = submit_held()["approval"]["id"]
    # token with its user's role, the request; savepoint, the request locked with its order;
    # request and order updated; working exposure released (2); two audit events (3 each);
    # release
    with django_assert_max_num_queries(15):
        response = decide(officer, approval_id, "deny")
    assert response.status_code == 200 and response.json()["order"]["status"] == "rejected"


def test_api_list(officer, queue, django_assert_max_num_queries):
    # token with its user's role, count, one page of requests with their orders, accounts,
    # instruments, users
    with django_assert_max_num_queries(3):
        response = officer.get("/api/v1/approvals/")
    assert response.json()["count"] == 5


@pytest.mark.parametrize("url", ["/approvals/", "/approvals/rows/"])
def test_queue_page(officer_page, queue, url, django_assert_max_num_queries):
    # session, user, role, the pending requests with their orders, accounts, instruments, users;
    # the active kill switches for the banner (then cached)
    with django_assert_max_num_queries(5):
        page = officer_page.get(url).content.decode()
    assert all(f'id="approval-{pk}"' in page for pk in queue[2:])


def test_history_page(officer_page, queue, django_assert_max_num_queries):
    # session, user, role, count, the account codes of the filter, one page of decided requests;
    # the active kill switches for the banner (then cached)
    with django_assert_max_num_queries(7):
        response = officer_page.get("/approvals/history/")
    assert response.status_code == 200


def test_detail_page(officer_page, queue, django_assert_max_num_queries):
    # session, user, role, the request with its order, the position, the other working orders,
    # the account's open alerts, its recent orders, the decision's history; the active kill
    # switches for the banner (then cached)
    with django_assert_max_num_queries(10):
        response = officer_page.get(f"/approvals/{queue[2]}/")
    assert response.status_code == 200
