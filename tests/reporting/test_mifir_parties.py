"""The MiFIR transaction report's scope, parties and checks before storing (RTS 22 fields 4-24,
29, 57 and 59; MiFIR art. 26).

On top of the desk of tests/reporting/factories.py (business day 2026-11-20)."""

from datetime import date

import pytest
from django.conf import settings
from django.core.checks import Error, Warning
from lxml import etree

from apps.core.errors import Conflict, ValidationFailed
from apps.rbac.roles import Role
from apps.reporting.builders.mifir import NS_BIZ, NS_HDR, NS_TX
from apps.reporting.checks import firm_lei_configured
from apps.reporting.lifecycle import transaction_reference
from apps.reporting.models import RegulatoryReport
from apps.reporting.schemas import schemas_present
from apps.reporting.services import report_generate
from apps.rules.models import RegulatoryEntity
from apps.trading.models import Instrument
from apps.trading.services import beneficial_owner_create, client_person_set
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows
from tests.trading.factories import AccountFactory, InstrumentFactory

pytestmark = pytest.mark.django_db
NS = {"b": NS_BIZ, "h": NS_HDR, "t": NS_TX}
EUREX_CLEARING = "529900LN3S50JPU47S06"
EURONEXT_CLEARING = "8156006407E264D2C725"
CLIENT_LEI = "5493000NBRIDGEAM0055"
needs_schemas = pytest.mark.skipif(
    not schemas_present(settings.MIFIR_SCHEMA_DIR),
    reason=f"the official MiFIR schemas are not in {settings.MIFIR_SCHEMA_DIR}",
)


def tx_id(fill, version=1) -> str:
    return transaction_reference(fill.exec_id, version)


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def generate(officer, fmt="xml", entity=None):
    return report_generate(
        report_type="mifir_transactions",
        period_start=DAY,
        period_end=DAY,
        fmt=fmt,
        actor=officer,
        entity=entity,
    )


def transactions(report, officer) -> dict:
    """The `New` elements of a stored report by exec id (the CSV's order and ids)."""
    root = etree.fromstring(content(report, officer))
    return {n.findtext("t:TxId", namespaces=NS): n for n in root.iterfind(".//t:New", NS)}


def text(node, path):
    return node.findtext(path, namespaces=NS)


@pytest.fixture
def moreau(desk):
    """ACC-NP: Lucas Moreau, a French natural person (no LEI), traded for as his agent."""
    owner = beneficial_owner_create(name="Lucas Moreau")
    client_person_set(
        owner=owner,
        first_names="Lucas",
        surnames="Moreau",
        birth_date=date(1979, 11, 30),
        nationality="FR",
    )
    return AccountFactory(code="ACC-NP", beneficial_owner=owner, trading_capacity="AOTC")


@pytest.fixture
def mc(db):
    return InstrumentFactory(
        symbol="MC", isin="FR0000121014", mic="XPAR", currency="EUR", sector="Consumer"
    )


# --- 1. scope ------------------------------------------------------------------------------------


def test_a_crypto_fill_is_not_reported_and_the_summary_says_why(desk, officer):
    btc = InstrumentFactory(
        symbol="BTC-USD", isin="XSDEMOBTC019", mic="XOFF", asset_class="crypto", sector="Crypto"
    )
    assert btc.mifir_reportable is False
    crypto = book_fill(
        account=desk["t1"],
        instrument=btc,
        side="buy",
        quantity="0.5",
        price="100000",
        venue="XOFF",
        executed_at=at(DAY, "17:00"),
        trader=desk["tina"],
    )
    report = generate(officer)
    assert tx_id(crypto) not in transactions(report, officer)
    assert report.record_count == 5  # the desk's day, nothing more
    assert report.summary["totals"]["Fills left out: not MiFIR reportable"] == 1
    [left_out] = [t for t in report.summary["tables"] if t["title"].startswith("Fills left out")]
    assert left_out["rows"] == [["BTC-USD", "crypto", 1, "not in the scope of MiFIR art. 26"]]
    csv_report = generate(officer, "csv")
    assert crypto.exec_id not in {r["exec_id"] for r in csv_rows(csv_report, officer)}


def test_a_period_with_nothing_reportable_has_no_file(officer, db):
    with pytest.raises(Conflict) as refused:
        generate(officer)
    assert refused.value.code == "mifir_nothing_to_report"
    assert not RegulatoryReport.objects.exists()


def test_the_instrument_api_shows_the_scope(api_client_for, desk):
    InstrumentFactory(symbol="ETH-USD", mic="XOFF", asset_class="crypto", sector="Crypto")
    body = api_client_for(Role.VIEWER).get("/api/v1/instruments/").json()
    rows = body["results"] if isinstance(body, dict) else body
    scope = {i["symbol"]: i["mifir_reportable"] for i in rows}
    assert scope == {"AAPL": True, "SAP": True, "ETH-USD": False}
    reportable = api_client_for(Role.VIEWER).get("/api/v1/instruments/?mifir_reportable=false")
    rows = reportable.json()["results"] if isinstance(reportable.json(), dict) else []
    assert [i["symbol"] for i in rows] == ["ETH-USD"]


# --- 2. parties, capacity, people ----------------------------------------------------------------


@needs_schemas
def test_a_natural_person_client_is_reported_with_concat(moreau, mc, desk, officer):
    fill = book_fill(
        account=moreau,
        instrument=mc,
        side="buy",
        quantity="3",
        price="475",
        venue="XPAR",
        executed_at=at(DAY, "13:00"),
        trader=desk["tina"],
    )
    report = generate(officer)  # stored: it passed the schemas
    new = transactions(report, officer)[tx_id(fill)]
    person = "t:Buyr/t:AcctOwnr/t:Id/t:Prsn"
    assert text(new, f"{person}/t:Othr/t:Id") == "FR19791130LUCASMOREA"
    assert text(new, f"{person}/t:Othr/t:SchmeNm/t:Prtry") == "CONCAT"
    assert text(new, f"{person}/t:FrstNm") == "Lucas"
    assert text(new, f"{person}/t:Nm") == "Moreau"
    assert text(new, f"{person}/t:BirthDt") == "1979-11-30"
    assert text(new, "t:Buyr/t:AcctOwnr/t:CtryOfBrnch") == settings.REPORTING_FIRM_COUNTRY
    # the firm acted as agent: the firm is neither buyer nor seller, the CCP of Euronext
    # Paris is the seller (the counterparty is not disclosed on a CCP-cleared venue)
    assert text(new, "t:Tx/t:TradgCpcty") == "AOTC"
    assert text(new, "t:Sellr/t:AcctOwnr/t:Id/t:LEI") == EURONEXT_CLEARING
    assert settings.REPORTING_FIRM_LEI not in {
        text(new, "t:Buyr/t:AcctOwnr/t:Id/t:LEI"),
        text(new, "t:Sellr/t:AcctOwnr/t:Id/t:LEI"),
    }


def test_a_natural_person_without_an_identity_refuses_the_file(desk, mc, officer):
    """Before, the firm's own LEI stood in for such a client: now nothing is stored."""
    account = AccountFactory(code="ACC-NOID", trading_capacity="AOTC")
    book_fill(
        account=account,
        instrument=mc,
        side="buy",
        quantity="1",
        price="475",
        venue="XPAR",
        executed_at=at(DAY, "13:00"),
        exec_id="EX-NOID",
    )
    with pytest.raises(ValidationFailed) as refused:
        generate(officer)
    assert refused.value.code == "mifir_report_invalid"
    assert refused.value.details["problems"] == [
        "fill EX-NOID (ACC-NOID): a natural person with no MiFIR identity on record"
    ]
    assert not RegulatoryReport.objects.exists()


def test_deal_and_aotc_parties(desk, officer):
    """One client account with an LEI: under DEAL (the account's capacity) the firm buys and
    decides; an order marked AOTC (metadata.trading_capacity) has the client buy and decide."""
    client = AccountFactory(code="ACC-C", lei=CLIENT_LEI)
    dealt, agency = (
        book_fill(
            account=client,
            instrument=desk["aapl"],
            side="buy",
            quantity="1",
            price="100",
            executed_at=at(DAY, hhmm),
            trader=desk["tina"],
            metadata=metadata,
        )
        for hhmm, metadata in (("17:00", None), ("17:01", {"trading_capacity": "AOTC"}))
    )
    news = transactions(generate(officer), officer)
    deal, aotc = news[tx_id(dealt)], news[tx_id(agency)]
    assert text(deal, "t:Tx/t:TradgCpcty") == "DEAL"
    assert text(deal, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == settings.REPORTING_FIRM_LEI
    assert deal.find("t:Buyr/t:AcctOwnr/t:CtryOfBrnch", NS) is None  # the firm, not a client
    assert text(deal, "t:InvstmtDcsnPrsn/t:Prsn/t:Othr/t:Id") == "GBQQ123456C"
    assert text(aotc, "t:Tx/t:TradgCpcty") == "AOTC"
    assert text(aotc, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == CLIENT_LEI
    assert aotc.find("t:InvstmtDcsnPrsn", NS) is None  # the client decided
    assert text(aotc, "t:ExctgPrsn/t:Prsn/t:Othr/t:Id") == "GBQQ123456C"
    for new in (deal, aotc):  # XNAS: no CCP in the mapping, the venue stands for the seller
        assert text(new, "t:Sellr/t:AcctOwnr/t:Id/t:MIC") == "XNAS"


def test_an_order_cannot_name_an_unknown_capacity(desk):
    from apps.trading.services import metadata_checked

    with pytest.raises(ValidationFailed) as refused:
        metadata_checked({"trading_capacity": "OWNACC"})
    assert "trading_capacity" in refused.value.details["metadata"][0]


def test_the_ccp_is_the_counterparty_of_a_cleared_venue(desk, officer):
    news = transactions(generate(officer), officer)
    sap_buy, sap_sell = news[tx_id(desk["fills"][1])], news[tx_id(desk["fills"][2])]
    assert text(sap_buy, "t:Sellr/t:AcctOwnr/t:Id/t:LEI") == EUREX_CLEARING
    assert text(sap_sell, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == EUREX_CLEARING
    assert sap_buy.find("t:Sellr/t:AcctOwnr/t:Id/t:MIC", NS) is None


def test_the_counterparty_lei_off_venue(desk, officer):
    dealer = "549300XOFFDEALER0028"  # an OTC counterparty's (synthetic, valid) LEI
    fill = book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="sell",
        quantity="1",
        price="104",
        venue="XOFF",
        executed_at=at(DAY, "17:00"),
        trader=desk["tina"],
        counterparty_lei=dealer,
    )
    new = transactions(generate(officer), officer)[tx_id(fill)]
    assert text(new, "t:Tx/t:TradVn") == "XOFF"
    assert text(new, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == dealer
    assert text(new, "t:Sellr/t:AcctOwnr/t:Id/t:LEI") == settings.REPORTING_FIRM_LEI


def test_an_off_venue_fill_without_its_counterparty_refuses_the_file(desk, officer):
    """Booked while its instrument was out of scope (the door asks for the LEI only in scope),
    then the instrument was brought into scope: the file cannot name the other side. Another
    off-venue fill's LEI does not stand in for it."""
    bond = InstrumentFactory(symbol="BOND1", mic="XOFF", asset_class="bond", sector="Debt")
    Instrument.objects.filter(pk=bond.pk).update(mifir_reportable=False)
    bond.refresh_from_db()
    for hhmm, lei, exec_id in (("17:00", "549300XOFFDEALER0028", "EX-B1"), ("17:01", "", "EX-B2")):
        book_fill(
            account=desk["t1"],
            instrument=bond,
            side="buy",
            quantity="1",
            price="99",
            venue="XOFF",
            executed_at=at(DAY, hhmm),
            trader=desk["tina"],
            counterparty_lei=lei,
            exec_id=exec_id,
        )
    Instrument.objects.filter(pk=bond.pk).update(mifir_reportable=True)
    with pytest.raises(ValidationFailed) as refused:
        generate(officer, "csv")
    assert refused.value.details["problems"] == [
        "fill EX-B2 (ACC-T1): an off-venue (XOFF) execution without its counterparty's LEI"
    ]


@needs_schemas
def test_a_decision_maker_under_a_power_of_attorney(moreau, mc, desk, officer):
    manager = beneficial_owner_create(name="Northbridge Asset Management LLC", lei=CLIENT_LEI)
    moreau.decision_maker = manager
    moreau.save(update_fields=["decision_maker"])
    fill = book_fill(
        account=moreau,
        instrument=mc,
        side="sell",
        quantity="1",
        price="480",
        venue="XPAR",
        executed_at=at(DAY, "13:05"),
        trader=desk["tina"],
    )
    new = transactions(generate(officer), officer)[tx_id(fill)]
    assert text(new, "t:Sellr/t:AcctOwnr/t:Id/t:Prsn/t:Othr/t:Id") == "FR19791130LUCASMOREA"
    assert text(new, "t:Sellr/t:DcsnMakr/t:LEI") == CLIENT_LEI
    assert new.find("t:Buyr/t:DcsnMakr", NS) is None


def test_a_trader_without_an_identity_refuses_the_file(desk, officer, make_user):
    """Before, "GB" + the user name was reported as a national identifier."""
    stranger = make_user(Role.TRADER, username="sam")
    book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="100",
        executed_at=at(DAY, "17:00"),
        trader=stranger,
        exec_id="EX-SAM",
    )
    with pytest.raises(ValidationFailed) as refused:
        generate(officer, "csv")
    assert refused.value.details["problems"] == [
        "fill EX-SAM (ACC-T1): a member of staff with no MiFIR identity on record"
    ]
    assert not RegulatoryReport.objects.exists()


# --- 5. checks before storing --------------------------------------------------------------------


@pytest.mark.parametrize("lei", ["", "529900T8BM49AURSDO56", "not-an-lei"])
def test_a_bad_firm_lei_refuses_to_build(desk, officer, settings, lei):
    settings.REPORTING_FIRM_LEI = lei
    for fmt in ("xml", "csv"):
        with pytest.raises(ValidationFailed) as refused:
            generate(officer, fmt)
        assert refused.value.code == "firm_lei_invalid"
    assert not RegulatoryReport.objects.exists()


def test_the_api_says_why_a_report_is_refused(api_client_for, desk, settings):
    settings.REPORTING_FIRM_LEI = "529900T8BM49AURSDO56"
    body = {
        "report_type": "mifir_transactions",
        "period_start": str(DAY),
        "period_end": str(DAY),
        "format": "xml",
    }
    response = api_client_for(Role.COMPLIANCE_OFFICER).post("/api/v1/reports/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "firm_lei_invalid"
    assert not RegulatoryReport.objects.exists()


def test_an_invalid_isin_refuses_to_build(desk, officer):
    Instrument.objects.filter(pk=desk["sap"].pk).update(isin="DE0007164601")  # check digit off
    with pytest.raises(ValidationFailed) as refused:
        generate(officer)
    assert any("DE0007164601" in p for p in refused.value.details["problems"])
    assert not RegulatoryReport.objects.exists()


@needs_schemas
def test_a_file_invalid_against_the_schemas_is_never_stored(desk, officer, monkeypatch):
    from apps.reporting.builders import mifir

    original = mifir._transaction
    monkeypatch.setattr(
        mifir, "_transaction", lambda row: original(row).replace(">DEAL<", ">OWNACC<")
    )
    with pytest.raises(ValidationFailed) as refused:
        generate(officer)
    assert refused.value.code == "mifir_schema_invalid"
    assert "TradgCpcty" in refused.value.details["schema_errors"][0]
    assert not RegulatoryReport.objects.exists()


def test_without_the_schemas_a_file_is_refused_when_they_are_required(
    desk, officer, settings, tmp_path
):
    settings.MIFIR_SCHEMA_DIR = tmp_path / "nowhere"
    settings.MIFIR_SCHEMA_REQUIRED = True
    with pytest.raises(Conflict) as refused:
        generate(officer)
    assert refused.value.code == "mifir_schemas_missing"
    assert not RegulatoryReport.objects.exists()


def test_a_mifir_report_for_an_entity_that_is_not_an_nca_is_refused(api_client_for, desk):
    RegulatoryEntity.objects.create(code="SEC", name="SEC", jurisdiction="United States")
    RegulatoryEntity.objects.create(
        code="BaFin", name="BaFin", jurisdiction="Germany", nca_country="DE"
    )
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    body = {
        "report_type": "mifir_transactions",
        "period_start": str(DAY),
        "period_end": str(DAY),
        "format": "xml",
    }
    refused = client.post("/api/v1/reports/", {**body, "regulatory_entity": "SEC"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "entity_not_nca"
    assert not RegulatoryReport.objects.exists()
    built = client.post("/api/v1/reports/", {**body, "regulatory_entity": "BaFin"}, format="json")
    assert built.status_code == 201, built.json()
    report = RegulatoryReport.objects.get()
    header = etree.fromstring(content(report, client.user)).find("b:Hdr/h:AppHdr", NS)
    assert header.findtext("h:To/h:OrgId/h:Id/h:OrgId/h:Othr/h:Id", namespaces=NS) == "DE"
    # other report types are still made for any entity
    other = client.post(
        "/api/v1/reports/",
        {**body, "report_type": "daily_trading", "format": "csv", "regulatory_entity": "SEC"},
        format="json",
    )
    assert other.status_code == 201


def test_a_lower_role_cannot_generate(api_client_for, desk):
    body = {
        "report_type": "mifir_transactions",
        "period_start": str(DAY),
        "period_end": str(DAY),
        "format": "xml",
    }
    response = api_client_for(Role.RISK_MANAGER).post("/api/v1/reports/", body, format="json")
    assert response.status_code == 403


# --- the firm's LEI as a system check ------------------------------------------------------------


def test_the_firm_lei_system_check(settings):
    settings.REPORTING_FIRM_LEI = "TEST00FIRMTEST000024"
    assert firm_lei_configured() == []
    settings.REPORTING_FIRM_LEI = "TEST00FIRMTEST000025"
    [error] = firm_lei_configured()
    assert isinstance(error, Error) and error.id == "reporting.E001"
    settings.REPORTING_FIRM_LEI = ""
    settings.DEBUG = False
    [error] = firm_lei_configured()
    assert isinstance(error, Error) and error.id == "reporting.E001"
    settings.DEBUG = True
    [warning] = firm_lei_configured()
    assert isinstance(warning, Warning) and warning.id == "reporting.W001"
