"""A MiFIR transaction's content hash covers every person detail the file reports: the names
and date of birth of a natural-person client (fields 9-11 / 18-20) and the branch country of a
member of staff (fields 58 and 60). A correction of those details after filing is sent again
(one `Cxl` and one `New`) even when the person's identifier stays the same, while the CSV and
JSON columns still show the identifier alone.

On top of the desk of tests/reporting/factories.py (business day 2026-11-20)."""

from datetime import date

import pytest
from lxml import etree

from apps.core.errors import Conflict
from apps.rbac.roles import Role
from apps.rbac.services import staff_identity_set, user_create
from apps.reporting.builders.mifir import NS_TX
from apps.reporting.identifiers import LEI, PERSON, Party, StaffCode
from apps.reporting.lifecycle import content_hash
from apps.trading.services import beneficial_owner_create, client_person_set
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows
from tests.reporting.test_mifir_life import actions, build, ref, submitted
from tests.trading.factories import AccountFactory

pytestmark = pytest.mark.django_db
NS = {"t": NS_TX}
CLIENT_ID = "GBAB123456C"  # a British client by their National Insurance number (NIDN)
STAFF_ID = "GBCE987654A"


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def hughes(desk):
    """ACC-NI: Olivia Hughes, a British natural person identified by her NI number, traded
    for as her agent; one buy on the desk's day (decided by the client, executed by tina)."""
    owner = beneficial_owner_create(name="Olivia Hughes")
    client_person_set(
        owner=owner,
        first_names="Olivia",
        surnames="Hughes",
        birth_date=date(1985, 6, 2),
        nationality="GB",
        national_id="AB123456C",
        national_id_kind="NIDN",
    )
    account = AccountFactory(code="ACC-NI", beneficial_owner=owner, trading_capacity="AOTC")
    fill = book_fill(
        account=account,
        instrument=desk["aapl"],
        side="buy",
        quantity="6",
        price="101",
        executed_at=at(DAY, "12:00"),
        trader=desk["tina"],
    )
    return {"owner": owner, "fill": fill}


@pytest.fixture
def sam(desk):
    """Sam, a trader of the firm (British, NI number), who dealt once on the desk's day."""
    user = user_create(username="sam", password="x-password-1", role=Role.TRADER)
    staff_identity_set(
        user=user,
        first_names="Sam",
        surnames="Okafor",
        birth_date=date(1990, 1, 9),
        nationality="GB",
        national_id="CE987654A",
        national_id_kind="NIDN",
    )
    fill = book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="102",
        executed_at=at(DAY, "12:30"),
        trader=user,
    )
    return {"user": user, "fill": fill}


def new_transaction(report, officer, reference):
    root = etree.fromstring(content(report, officer))
    for new in root.iterfind(".//t:New", NS):
        if new.findtext("t:TxId", namespaces=NS) == reference:
            return new
    raise AssertionError(f"{reference} is not reported New")


# --- the CSV keeps the identifier -------------------------------------------------------------


def test_the_csv_shows_a_persons_identifier_alone(hughes, sam, officer):
    rows = {r["exec_id"]: r for r in csv_rows(build(officer, "csv"), officer)}
    client = rows[hughes["fill"].exec_id]
    assert (client["buyer_type"], client["buyer"]) == ("NIDN", CLIENT_ID)
    staff = rows[sam["fill"].exec_id]
    assert (staff["investment_decision"], staff["execution"]) == (STAFF_ID, STAFF_ID)


# --- corrections after filing --------------------------------------------------------------------


def test_a_clients_corrected_first_names_give_one_cxl_and_one_new(hughes, officer):
    first = submitted(officer)
    fill = hughes["fill"]
    reported = new_transaction(first, officer, ref(fill))
    person = "t:Buyr/t:AcctOwnr/t:Id/t:Prsn"
    assert reported.findtext(f"{person}/t:FrstNm", namespaces=NS) == "Olivia"

    client_person_set(owner=hughes["owner"], first_names="Olivia Mary")
    second = build(officer)
    assert actions(second, officer) == [("Cxl", ref(fill)), ("New", ref(fill, 2))]
    corrected = new_transaction(second, officer, ref(fill, 2))
    assert corrected.findtext(f"{person}/t:FrstNm", namespaces=NS) == "Olivia Mary"
    assert corrected.findtext(f"{person}/t:Othr/t:Id", namespaces=NS) == CLIENT_ID


def test_a_clients_corrected_birth_date_gives_one_cxl_and_one_new(hughes, officer):
    submitted(officer)
    client_person_set(owner=hughes["owner"], birth_date=date(1985, 2, 6))
    second = build(officer)
    fill = hughes["fill"]
    assert actions(second, officer) == [("Cxl", ref(fill)), ("New", ref(fill, 2))]
    corrected = new_transaction(second, officer, ref(fill, 2))
    birth = "t:Buyr/t:AcctOwnr/t:Id/t:Prsn/t:BirthDt"
    assert corrected.findtext(birth, namespaces=NS) == "1985-02-06"


def test_a_staff_members_new_branch_country_gives_one_cxl_and_one_new(sam, officer):
    submitted(officer)
    staff_identity_set(user=sam["user"], branch_country="IE")
    second = build(officer)
    fill = sam["fill"]
    assert actions(second, officer) == [("Cxl", ref(fill)), ("New", ref(fill, 2))]
    corrected = new_transaction(second, officer, ref(fill, 2))
    for field in ("t:InvstmtDcsnPrsn", "t:ExctgPrsn"):
        assert corrected.findtext(f"{field}/t:Prsn/t:CtryOfBrnch", namespaces=NS) == "IE"
        assert corrected.findtext(f"{field}/t:Prsn/t:Othr/t:Id", namespaces=NS) == STAFF_ID


def test_an_unchanged_rerun_with_people_sends_nothing(hughes, sam, officer):
    submitted(officer)
    # saved again with the same details: nothing the file reports changed
    client_person_set(owner=hughes["owner"], first_names="Olivia")
    staff_identity_set(user=sam["user"], surnames="Okafor")
    with pytest.raises(Conflict) as nothing:
        build(officer)
    assert nothing.value.code == "nothing_to_send"
    assert nothing.value.details["unchanged"] == 7


# --- the hash itself -----------------------------------------------------------------------------


def _row(buyer, execution) -> tuple:
    return ("NEWT", "", "LEI1", "LEI1", buyer.type, buyer, "MIC", Party("MIC", "XNAS"),
            "AOTC", None, "1", "100", "USD", "XNAS", "GB", "US0378331005", "", "",
            "person", execution, "", "EX-1", 1, "ACC", "1", None, None)  # fmt: skip


def test_the_hash_covers_every_reported_person_detail_and_is_stable():
    client = Party(
        PERSON,
        CLIENT_ID,
        scheme="NIDN",
        first_names="Olivia",
        surnames="Hughes",
        birth_date=date(1985, 6, 2),
        branch_country="GB",
    )
    staff = StaffCode(STAFF_ID, "NIDN", "GB")
    digest = content_hash(_row(client, staff))
    # equal details in other objects: the same hash
    assert content_hash(_row(Party(**vars(client)), StaffCode(STAFF_ID, "NIDN", "GB"))) == digest
    changed = [
        Party(**{**vars(client), "first_names": "Olivia Mary"}),
        Party(**{**vars(client), "surnames": "Hughes-Smith"}),
        Party(**{**vars(client), "birth_date": date(1985, 2, 6)}),
        Party(**{**vars(client), "branch_country": "IE"}),
    ]
    assert len({content_hash(_row(p, staff)) for p in changed} | {digest}) == 5
    for other in (StaffCode(STAFF_ID, "NIDN", "IE"), StaffCode(STAFF_ID, "CCPT", "GB")):
        assert content_hash(_row(client, other)) != digest
    # an LEI and a MIC with the same text are different parties
    assert content_hash(_row(Party(LEI, "X"), staff)) != content_hash(
        _row(Party("MIC", "X"), staff)
    )
