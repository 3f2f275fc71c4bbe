"""The MiFIR transaction report (RTS 22): content, and validity against the official schemas."""

import hashlib
import io

import pytest
from django.conf import settings
from lxml import etree

from apps.core.errors import Conflict
from apps.rbac.roles import Role
from apps.reporting.builders.mifir import NS_BIZ, NS_HDR, NS_TX, tx_id
from apps.reporting.models import RegulatoryReport
from apps.reporting.schemas import mifir_errors, schemas_present
from apps.reporting.services import report_generate, report_status_set
from tests.reporting.factories import DAY, at, book_fill
from tests.reporting.helpers import content, csv_rows

pytestmark = pytest.mark.django_db
SCHEMAS = settings.MIFIR_SCHEMA_DIR
needs_schemas = pytest.mark.skipif(
    not schemas_present(SCHEMAS),
    reason=f"the official MiFIR schemas are not beside the repository ({SCHEMAS})",
)
NS = {"b": NS_BIZ, "h": NS_HDR, "t": NS_TX}


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
        tx_id(f.pk) for f in desk["fills"][1:]
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
    buy = news[tx_id(fills[3].pk)]
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

    # fill 2: ACC-T2 (its own LEI) sells 8 SAP holding 5: a short sale, by the trader tina
    short = news[tx_id(fills[2].pk)]
    assert text(short, "t:Sellr/t:AcctOwnr/t:Id/t:LEI") == "5493001KJTIIGC8Y1R12"
    assert text(short, "t:Buyr/t:AcctOwnr/t:Id/t:MIC") == "XETR"
    assert text(short, "t:AddtlAttrbts/t:ShrtSellgInd") == "SESH"
    assert text(short, "t:InvstmtDcsnPrsn/t:Prsn/t:Othr/t:Id") == "GBTINA"
    assert text(short, "t:ExctgPrsn/t:Prsn/t:Othr/t:SchmeNm/t:Cd") == "NIDN"
    assert short.find("t:Tx/t:Pric/t:Pric/t:MntryVal/t:Amt", NS).get("Ccy") == "EUR"

    # fill 4: ACC-T1 sells 4 AAPL holding 12: a plain sale
    assert text(news[tx_id(fills[4].pk)], "t:AddtlAttrbts/t:ShrtSellgInd") == "SELL"


def test_the_csv_has_the_same_rows(desk, officer):
    rows = csv_rows(generate(officer, "csv"), officer)
    assert [r["tx_id"] for r in rows] == [tx_id(f.pk) for f in desk["fills"][1:]]
    assert {r["action"] for r in rows} == {"NEWT"}
    assert [r["short_selling"] for r in rows] == ["", "SESH", "", "SELL", "SELL"]
    assert rows[2]["execution_type"] == "algo" and rows[2]["execution"] == "MEANREV7"


@needs_schemas
def test_a_rerun_after_submission_cancels_what_it_no_longer_reports(desk, officer, tmp_path):
    first = generate(officer)
    report_status_set(report=first, actor=officer, status="submitted", submission_reference="R1")
    # The period as reported before lost a transaction (here: its file names one more).
    stale = content(first, officer).replace(
        tx_id(desk["fills"][5].pk).encode(), b"TX999999999999", 1
    )
    first.file.storage.delete(first.file.name)
    first.file.storage.save(first.file.name, io.BytesIO(stale))
    RegulatoryReport.objects.filter(pk=first.pk).update(
        sha256=hashlib.sha256(stale).hexdigest(), size=len(stale)
    )
    second = generate(officer)
    root = parsed(second, officer)
    cancels = root.findall(".//t:Tx/t:Cxl", NS)
    assert [c.findtext("t:TxId", namespaces=NS) for c in cancels] == ["TX999999999999"]
    assert len(root.findall(".//t:Tx/t:New", NS)) == 5
    path = tmp_path / "second.xml"
    path.write_bytes(content(second, officer))
    assert mifir_errors(str(path), SCHEMAS) == []


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


def test_a_rerun_refuses_to_read_an_altered_submitted_version(desk, officer):
    first = generate(officer)
    report_status_set(report=first, actor=officer, status="submitted", submission_reference="R1")
    with open(first.file.path, "ab") as handle:
        handle.write(b"<!-- edited -->")
    with pytest.raises(Conflict) as refused:
        generate(officer)
    assert refused.value.code == "report_integrity_failed"
    assert RegulatoryReport.objects.count() == 1
