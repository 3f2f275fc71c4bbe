"""Back-office lists that show an order by its title (which names the symbol) read each
order's instrument with the page, not once per row."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.rbac.roles import Role
from tests.reporting.factories import DAY, at, book_fill
from tests.trading.factories import AccountFactory, InstrumentFactory


def _fills(n: int) -> None:
    account = AccountFactory()
    for i in range(n):
        book_fill(
            account=account,
            instrument=InstrumentFactory(),
            side="buy",
            quantity="1",
            price="10",
            executed_at=at(DAY, f"10:{i:02d}"),
        )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_fill_and_message_lists_cost_the_same_for_two_rows_or_eight(client, make_user):
    client.force_login(make_user(Role.ADMIN))
    _fills(2)
    urls = ("/admin/trading/fill/", "/admin/trading/ordermessage/")
    for url in urls:  # a first visit pays its one-off reads
        _queries(client, url)
    few = {url: _queries(client, url) for url in urls}
    _fills(6)
    for url, count in few.items():
        assert _queries(client, url) == count, url
