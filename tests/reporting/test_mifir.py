"""The MiFIR transaction report (RTS 22): content, and validity against the official schemas."""

from decimal import Decimal

import pytest
from django.conf import settings
from lxml import etree

from apps.rbac.roles import Role
from apps.reporting.builders.mifir import NS_BIZ, NS_HDR, NS_TX, short_selling_indicator
from apps.reporting.lifecycle import transaction_reference
from apps.reporting.schemas import mifir_errors, schemas_present
from apps.reporting.services import report_generate
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows
from tests.trading.factories import AccountFactory

pytestmark = pytest.mark.django_db
SCHEMAS = settings.MIFIR_SCHEMA_DIR
needs_schemas = pytest.mark.skipif(
    not schemas_present(SCHEMAS),
    reason=f"the official MiFIR schemas are not beside the repository ({SCHEMAS})",
)
NS = {"b": NS_BIZ, "h": NS_HDR, "t": NS_TX}
EUREX_CLEARING = "529900LN3S50JPU47S06"  # the CCP of Xetra (apps/reporting/data/venue_ccps.csv)


def tx_id(fill, version=1) -> str:
    return transaction_reference(fill.exec_id, version)


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


def generate(officer, fmt="xml"):
    return report_generate(
        report_type="mifir_transactions", period_start=DAY, period_end=DAY, fmt=fmt, actor=officer
    )


def parsed(report, officer):
    return etree.fromstring(content(report, officer))


@needs_schemas
def test_the_file_is_valid_against_the_official_schemas(desk, officer, tmp_path):
    report = generate(officer)
    path = tmp_path / "report.xml"
    path.write_bytes(content(report, officer))
    assert mifir_errors(str(path), SCHEMAS) == []


@needs_schemas
def test_an_invalid_file_is_caught(desk, officer, tmp_path):
    """The validation is real: a wrong trading capacity fails it."""
    xml = content(generate(officer), officer).replace(b">DEAL<", b">OWNACC<", 1)
    path = tmp_path / "bad.xml"
    path.write_bytes(xml)
    errors = mifir_errors(str(path), SCHEMAS)
    assert errors and "TradgCpcty" in errors[0]


def test_header_and_one_new_transaction_per_fill(desk, officer):
    root = parsed(generate(officer), officer)
    assert root.tag == f"{{{NS_BIZ}}}BizData"
    header = root.find("b:Hdr/h:AppHdr", NS)
    assert header.findtext("h:Fr/h:OrgId/h:Id/h:OrgId/h:Othr/h:Id", namespaces=NS) == (
        settings.REPORTING_FIRM_LEI
    )
    assert header.findtext("h:MsgDefIdr", namespaces=NS) == "auth.016.001.01"
    assert header.findtext("h:BizMsgIdr", namespaces=NS) == "RTS222026112020261120V1"
    news = root.findall("b:Pyld/t:Document/t:FinInstrmRptgTxRpt/t:Tx/t:New", NS)
    assert [n.findtext("t:TxId", namespaces=NS) for n in news] == [
        tx_id(f) for f in desk["fills"][1:]
    ]


def test_fields_of_a_transaction(desk, officer):
    root = parsed(generate(officer), officer)
    news = {n.findtext("t:TxId", namespaces=NS): n for n in root.iterfind(".//t:New", NS)}
    fills = desk["fills"]
    lei = settings.REPORTING_FIRM_LEI

    def text(node, path):
        return node.findtext(path, namespaces=NS)

    # fill 3: ACC-T1 (no LEI of its own: the firm deals on own account) buys 10 AAPL at 100 on
    # XNAS, decided and executed by the algorithm mean-rev-7
    buy = news[tx_id(fills[3])]
    assert text(buy, "t:ExctgPty") == lei and text(buy, "t:SubmitgPty") == lei
    assert text(buy, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == lei
    assert text(buy, "t:Sellr/t:AcctOwnr/t:Id/t:MIC") == "XNAS"
    assert text(buy, "t:Tx/t:TradgCpcty") == "DEAL"
    assert text(buy, "t:Tx/t:TradDt") == "2026-11-20T14:30:00.000000Z"
    assert text(buy, "t:Tx/t:Qty/t:Unit") == "10"
    price = buy.find("t:Tx/t:Pric/t:Pric/t:MntryVal/t:Amt", NS)
    assert (price.text, price.get("Ccy")) == ("100", "USD")
    assert text(buy, "t:Tx/t:TradVn") == "XNAS"
    assert text(buy, "t:FinInstrm/t:Id") == "US0378331005"
    assert text(buy, "t:InvstmtDcsnPrsn/t:Algo") == "MEANREV7"
    assert text(buy, "t:ExctgPrsn/t:Algo") == "MEANREV7"
    assert buy.find("t:AddtlAttrbts/t:ShrtSellgInd", NS) is None  # a buy

    # fill 2: ACC-T2 (a client with its LEI, AOTC) sells 8 SAP holding 5 on XETR: a short
    # sale, executed by the trader tina; the buyer is the CCP that clears Xetra
    short = news[tx_id(fills[2])]
    assert text(short, "t:Tx/t:TradgCpcty") == "AOTC"
    assert text(short, "t:Sellr/t:AcctOwnr/t:Id/t:LEI") == "5493001KJTIIGC8Y1R12"
    assert text(short, "t:Sellr/t:AcctOwnr/t:CtryOfBrnch") == settings.REPORTING_FIRM_COUNTRY
    assert text(short, "t:Buyr/t:AcctOwnr/t:Id/t:LEI") == EUREX_CLEARING
    assert text(short, "t:AddtlAttrbts/t:ShrtSellgInd") == "SESH"
    # the client took the investment decision: no field 57; tina executed it (field 59), by
    # her National Insurance number, as RTS 22 Annex II ranks it first for the GB
    assert short.find("t:InvstmtDcsnPrsn", NS) is None
    assert text(short, "t:ExctgPrsn/t:Prsn/t:Othr/t:Id") == "GBQQ123456C"
    assert text(short, "t:ExctgPrsn/t:Prsn/t:Othr/t:SchmeNm/t:Cd") == "NIDN"
    assert short.find("t:Tx/t:Pric/t:Pric/t:MntryVal/t:Amt", NS).get("Ccy") == "EUR"

    # fill 4: ACC-T1 sells 4 AAPL holding 12: a plain sale
    assert text(news[tx_id(fills[4])], "t:AddtlAttrbts/t:ShrtSellgInd") == "SELL"


def test_the_csv_has_the_same_rows(desk, officer):
    rows = csv_rows(generate(officer, "csv"), officer)
    assert [r["tx_id"] for r in rows] == [tx_id(f) for f in desk["fills"][1:]]
    assert {r["action"] for r in rows} == {"NEWT"}
    assert [r["short_selling"] for r in rows] == ["", "SESH", "", "SELL", "SELL"]
    assert rows[2]["execution_type"] == "algo" and rows[2]["execution"] == "MEANREV7"


def test_a_fill_without_a_trader_is_executed_for_the_client(desk, officer):
    book_fill(
        account=desk["t1"],
        instrument=desk["aapl"],
        side="buy",
        quantity="1",
        price="101",
        executed_at=at(DAY, "17:00"),
    )
    rows = csv_rows(generate(officer, "csv"), officer)
    assert (rows[-1]["execution_type"], rows[-1]["execution"]) == ("client", "NORE")
    assert rows[-1]["investment_decision_type"] == ""


# --- the short-selling indicator (RTS 22 field 62) ---------------------------------------------


@pytest.mark.parametrize(
    ("side", "asset_class", "held", "expected"),
    [
        ("buy", "equity", "0", ""),
        ("sell", "equity", "10", "SELL"),
        ("sell", "equity", "9", "SESH"),  # marked long, but it went short
        ("sell_short", "equity", "0", "SESH"),
        ("sell_short", "etf", "100", "SESH"),  # the marking says short
        ("sell_short_exempt", "equity", "0", "SSEX"),
        ("sell_short", "crypto", "0", ""),  # not a share: the field is left out
        ("sell", "future", "0", ""),
    ],
)
def test_the_indicator_of_each_side(side, asset_class, held, expected):
    indicator = short_selling_indicator(side, asset_class, Decimal(held), Decimal("10"))
    assert indicator == expected


def test_short_sales_are_reported_by_their_side(desk, officer, tmp_path):
    # ACC-T2 (a client with its LEI, so the seller) is short 3 SAP after the desk's day.
    t2, sap = desk["t2"], desk["sap"]
    for n, (side, quantity) in enumerate(
        [("sell_short", "2"), ("sell_short_exempt", "1"), ("buy", "10"), ("sell", "4")]
    ):
        book_fill(
            account=t2,
            instrument=sap,
            side=side,
            quantity=quantity,
            price="205",
            venue="XETR",
            executed_at=at(DAY, f"17:0{n}"),
        )
    rows = csv_rows(generate(officer, "csv"), officer)
    assert [r["short_selling"] for r in rows[-4:]] == ["SESH", "SSEX", "", "SELL"]
    assert [r["seller"] for r in rows[-4:]] == ["5493001KJTIIGC8Y1R12"] * 2 + [EUREX_CLEARING] + [
        "5493001KJTIIGC8Y1R12"
    ]
    report = generate(officer)
    assert report.summary["totals"]["Short sales"] == 3  # fill 2, and the two marked short
    assert report.summary["totals"]["Short sales exempt"] == 1
    if schemas_present(SCHEMAS):
        path = tmp_path / "short.xml"
        path.write_bytes(content(report, officer))
        assert mifir_errors(str(path), SCHEMAS) == []
        indicators = etree.parse(str(path)).findall(".//t:AddtlAttrbts/t:ShrtSellgInd", NS)
        assert [i.text for i in indicators][-3:] == ["SESH", "SSEX", "SELL"]


def test_the_indicator_is_judged_for_the_entity_reported_as_seller(desk, officer):
    """ACC-T1 and ACC-T3 are the firm's own book (DEAL): the firm is the seller of their sales,
    so a long sale is judged on what the firm holds in both (T1 holds 5 AAPL). ACC-T4 is a
    client (AOTC): its sale is judged on its own position, none."""
    t3 = AccountFactory(code="ACC-T3")
    t4 = AccountFactory(code="ACC-T4", lei="529900T8BM49AURSDO55", trading_capacity="AOTC")
    for account, hhmm in ((t3, "17:00"), (t4, "17:01")):
        book_fill(
            account=account,
            instrument=desk["aapl"],
            side="sell",
            quantity="3",
            price="105",
            executed_at=at(DAY, hhmm),
        )
    rows = csv_rows(generate(officer, "csv"), officer)
    assert [(r["account"], r["seller"], r["short_selling"]) for r in rows[-2:]] == [
        ("ACC-T3", settings.REPORTING_FIRM_LEI, "SELL"),
        ("ACC-T4", "529900T8BM49AURSDO55", "SESH"),
    ]


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_the_file_is_downloaded_by_compliance_officers_only(desk, officer, api_client_for, fmt):
    """A MiFIR file names natural persons (names, dates of birth, national identifiers): below
    a Compliance Officer the download is refused, even where the report list is readable."""
    from tests.permissions import assert_api_role_required

    report = generate(officer, fmt=fmt)
    url = f"/api/v1/reports/{report.pk}/download/"
    assert api_client_for(Role.RISK_MANAGER).get(f"/api/v1/reports/{report.pk}/").status_code == 200
    assert_api_role_required(api_client_for, "get", url, Role.COMPLIANCE_OFFICER)
