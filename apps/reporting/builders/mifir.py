"""MiFIR transaction report (RTS 22): one ISO 20022 `BizData` file per period.

`BizData` (head.003) holds the business application header `AppHdr` (head.001) and the
`FinInstrmRptgTxRpt` document (auth.016), the firm dealing on own account (DEAL). Which fills
go in with which action is the report's life (`apps.reporting.lifecycle`): against what the
regulator holds for the period, a `Tx/New` for each fill it does not hold, a `Tx/Cxl` and a
`Tx/New` for each whose content changed, a `Tx/Cxl` for each no longer reported, nothing for
the unchanged. The XML is written one transaction at a time, the CSV carries the same rows.

The seller of a sale is the account when it has an LEI of its own, else the firm. The
short-selling indicator (field 62, `ShrtSellgInd`) is judged for that seller
(`short_selling_indicator`).

Price and quantity are per contract, as RTS 22 (fields 30 and 33) wants: the price multiplier
(field 46) belongs to an instrument reported by its attributes (`FinInstrm/Othr`), while these
instruments are reported by ISIN (`FinInstrm/Id`), whose reference data (FIRDS) carries it. The
CSV and JSON add it in their last column for the reader.
"""

import io
import re
from collections import defaultdict
from datetime import UTC
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import Case, DecimalField, F, Sum, When
from lxml import etree

from apps.core.types import decimal_str
from apps.reporting.builders.base import (
    CHUNK,
    FILLS_TO_PERIOD_END,
    Chart,
    ReportBuilder,
    Summary,
    Table,
)
from apps.reporting.lifecycle import Ledger, content_hash, transaction_reference
from apps.trading.models import (
    Account,
    AssetClass,
    Fill,
    FillStatus,
    Side,
    is_sell,
    signed_quantity,
)

NS_BIZ = "urn:iso:std:iso:20022:tech:xsd:head.003.001.01"
NS_HDR = "urn:iso:std:iso:20022:tech:xsd:head.001.001.01"
NS_TX = "urn:iso:std:iso:20022:tech:xsd:auth.016.001.01"
MESSAGE = "auth.016.001.01"
ZERO = Decimal("0")
# The short-selling flag applies to sales of shares (and sovereign debt, not traded here).
SHORT_SELLING_CLASSES = {AssetClass.EQUITY, AssetClass.ETF}
NEW, CANCEL = "NEWT", "CANC"
# RTS 22 field 62: short sale with no exemption, with an exemption, no short sale (UNDI,
# information not available, is never needed: the side and the book always answer).
SESH, SSEX, SELL = "SESH", "SSEX", "SELL"


def short_selling_indicator(side: str, asset_class: str, held: Decimal, quantity: Decimal) -> str:
    """Field 62 of a sale, judged for the entity reported as seller, whose position before
    the sale was `held`; "" for a buy and outside shares and ETFs.

    The side says it: `sell_short` is SESH, `sell_short_exempt` SSEX. A `sell` (a long sale)
    is SELL when the seller held what it sold, and SESH when it did not: a sale marked long
    that went short (booked where the `sale_marking` rule did not stop it) is still a short
    sale, and no exemption was claimed for it."""
    if not is_sell(side) or asset_class not in SHORT_SELLING_CLASSES:
        return ""
    if side == Side.SELL_SHORT_EXEMPT:
        return SSEX
    if side == Side.SELL_SHORT:
        return SESH
    return SELL if held >= quantity else SESH


def _code(text: str, limit: int) -> str:
    return re.sub(r"[^A-Z0-9]", "", (text or "").upper())[:limit]


def person_id(username: str) -> str:
    """A national identifier for a person of the firm: branch country + their user id."""
    return settings.REPORTING_FIRM_COUNTRY + (_code(username, 33) or "UNKNOWN")


def algo_id(strategy: str) -> str:
    return _code(strategy, 50) or "ALGO"


class MifirTransactionsBuilder(ReportBuilder):
    report_type = "mifir_transactions"
    title = "MiFIR transaction report (RTS 22)"
    description = "One transaction per fill executed in the period; the firm deals on own account."
    formats = ("xml", "csv", "json", "pdf")
    # The short-selling indicator reads the position before the period: every earlier fill.
    reads_fills = FILLS_TO_PERIOD_END
    columns = [
        "action",
        "tx_id",
        "executing_entity",
        "submitting_entity",
        "buyer_type",
        "buyer",
        "seller_type",
        "seller",
        "trading_capacity",
        "trade_time",
        "quantity",
        "price",
        "currency",
        "venue",
        "branch_country",
        "isin",
        "investment_decision_type",
        "investment_decision",
        "execution_type",
        "execution",
        "short_selling",
        "exec_id",
        "order_id",
        "account",
        "price_multiplier",
    ]

    def __init__(self, *, ledger: Ledger | None = None, version: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger if ledger is not None else Ledger()
        self.version = version
        # What the file carries, for the table of reported transactions:
        # (action, reference, fill id, version, trade date, content hash).
        self.lines: list[tuple[str, str, int, int, object, str]] = []
        self.lei = settings.REPORTING_FIRM_LEI
        self.country = settings.REPORTING_FIRM_COUNTRY
        self._actions = defaultdict(int)
        self._venues = defaultdict(int)
        self._short = 0
        self._exempt = 0
        self._algo = 0
        self.unchanged = 0

    # --- rows ---------------------------------------------------------------------------------

    def _opening_positions(self) -> dict[tuple[int, int], Decimal]:
        """Net quantity per (account, instrument) before the period."""
        signed = Case(
            When(order__side="buy", then=F("quantity")),
            default=-F("quantity"),
            output_field=DecimalField(max_digits=30, decimal_places=8),
        )
        rows = (
            Fill.objects.filter(status=FillStatus.ACTIVE, executed_at__lt=self.period.start_at)
            .values_list("order__account_id", "order__instrument_id")
            .annotate(net=Sum(signed))
            .order_by()
        )
        return {(a, i): Decimal(str(net)) for a, i, net in rows}

    def _cancel(self, fill_id: int, held) -> tuple:
        self.lines.append((CANCEL, held.reference, fill_id, 0, held.trade_date, ""))
        return (CANCEL, held.reference, self.lei, self.lei, *[""] * (len(self.columns) - 4))

    def fetch(self):
        """The period's transactions as the regulator should hold them, less what it holds."""
        held = dict(self.ledger.held)
        for fill_id, exec_id, row in self.transactions():
            digest = content_hash(row)
            before = held.pop(fill_id, None)
            if before is not None and before.content_hash == digest:
                self.unchanged += 1  # reported already, unchanged
                continue
            if before is not None:
                yield self._cancel(fill_id, before)
            version = self.ledger.next_version(fill_id)
            reference = transaction_reference(exec_id, version)
            day = row[self.columns.index("trade_time")].astimezone(UTC).date()
            self.lines.append((NEW, reference, fill_id, version, day, digest))
            yield (row[0], reference, *row[2:])
        for fill_id, before in sorted(held.items(), key=lambda kv: kv[1].reference):
            yield self._cancel(fill_id, before)

    def transactions(self):
        """(fill id, exec_id, New row) for each transaction of the period, the row's reference
        left empty (`fetch` sets it)."""
        # Each seller's position per instrument: (account id, instrument id) for an account
        # with its own LEI, (None, instrument id) for the firm and the accounts it reports as
        # itself, summed (the short-sale flag is the seller's).
        as_firm = set(Account.objects.filter(lei="").values_list("pk", flat=True))
        positions = defaultdict(lambda: ZERO)
        for (account_id, instrument_id), net in self._opening_positions().items():
            positions[(None if account_id in as_firm else account_id, instrument_id)] += net
        fills = (
            Fill.objects.filter(
                status=FillStatus.ACTIVE,
                executed_at__gte=self.period.start_at,
                executed_at__lt=self.period.end_at,
            )
            .order_by("executed_at", "id")
            .values_list(
                "pk",
                "exec_id",
                "executed_at",
                "quantity",
                "price",
                "venue",
                "order_id",
                "order__side",
                "order__metadata",
                "order__submitted_by__username",
                "order__account_id",
                "order__account__code",
                "order__account__lei",
                "order__instrument_id",
                "order__instrument__isin",
                "order__instrument__currency",
                "order__instrument__asset_class",
                "order__instrument__multiplier",
            )
        )
        for (
            pk,
            exec_id,
            executed_at,
            quantity,
            price,
            venue,
            order_id,
            side,
            metadata,
            username,
            account_id,
            account,
            account_lei,
            instrument_id,
            isin,
            currency,
            asset_class,
            multiplier,
        ) in fills.iterator(chunk_size=CHUNK):
            key = (account_id if account_lei else None, instrument_id)
            before = positions[key]
            positions[key] = before + signed_quantity(side, quantity)
            us = ("LEI", account_lei or self.lei)
            venue_party = ("MIC", venue)
            buyer, seller = (venue_party, us) if is_sell(side) else (us, venue_party)
            metadata = metadata if isinstance(metadata, dict) else {}
            if metadata.get("decision_source") == "algo":
                decision = ("algo", algo_id(str(metadata.get("strategy", ""))))
                execution = decision
            elif username:
                decision = execution = ("person", person_id(username))
            else:
                decision, execution = ("", ""), ("client", "NORE")
            short = short_selling_indicator(side, asset_class, before, quantity)
            yield (
                pk,
                exec_id,
                (
                    NEW,
                    "",
                    self.lei,
                    self.lei,
                    *buyer,
                    *seller,
                    "DEAL",
                    executed_at,
                    quantity,
                    price,
                    currency,
                    venue,
                    self.country,
                    isin,
                    *decision,
                    *execution,
                    short,
                    exec_id,
                    order_id,
                    account,
                    multiplier,
                ),
            )

    def accumulate(self, row) -> None:
        self._actions[row[0]] += 1
        if row[0] == NEW:
            self._venues[row[13]] += 1
            self._short += row[20] in (SESH, SSEX)
            self._exempt += row[20] == SSEX
            self._algo += row[18] == "algo"

    def summary(self) -> Summary:
        totals = [
            ("Transactions (New)", self._actions[NEW]),
            ("Cancellations (Cxl)", self._actions[CANCEL]),
            ("Unchanged since filed (not sent again)", self.unchanged),
            ("Short sales", self._short),
            ("Short sales exempt", self._exempt),
            ("Executed by an algorithm", self._algo),
            ("Executing entity LEI", self.lei),
        ]
        venues = sorted(self._venues.items(), key=lambda kv: (-kv[1], kv[0]))
        table = Table("Transactions by venue", ["Venue", "Transactions"], [list(v) for v in venues])
        chart = Chart("Transactions by venue", [v for v, _ in venues], [c for _, c in venues])
        return Summary(totals, [table], [chart])

    # --- XML ----------------------------------------------------------------------------------

    def message_id(self) -> str:
        return f"RTS22{self.period.start:%Y%m%d}{self.period.end:%Y%m%d}V{self.version}"[:35]

    def _app_header(self):
        def party(identifier: str, scheme: str):
            org = etree.Element(f"{{{NS_HDR}}}OrgId")
            inner = etree.SubElement(etree.SubElement(org, f"{{{NS_HDR}}}Id"), f"{{{NS_HDR}}}OrgId")
            other = etree.SubElement(inner, f"{{{NS_HDR}}}Othr")
            etree.SubElement(other, f"{{{NS_HDR}}}Id").text = identifier
            scheme_el = etree.SubElement(other, f"{{{NS_HDR}}}SchmeNm")
            etree.SubElement(scheme_el, f"{{{NS_HDR}}}Prtry").text = scheme
            return org

        hdr = etree.Element(f"{{{NS_HDR}}}AppHdr", nsmap={None: NS_HDR})
        etree.SubElement(hdr, f"{{{NS_HDR}}}Fr").append(party(self.lei, "LEI"))
        to = etree.SubElement(hdr, f"{{{NS_HDR}}}To")
        to.append(party(settings.REPORTING_AUTHORITY_COUNTRY, "NCA"))
        etree.SubElement(hdr, f"{{{NS_HDR}}}BizMsgIdr").text = self.message_id()
        etree.SubElement(hdr, f"{{{NS_HDR}}}MsgDefIdr").text = MESSAGE
        etree.SubElement(hdr, f"{{{NS_HDR}}}CreDt").text = self.generated_at.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        return hdr

    def write_xml(self, out) -> None:
        """Write the BizData document to the binary file `out`, one transaction at a time.

        The header is built with lxml; each transaction is written from a template (every
        text escaped), which is several times faster than building elements."""
        header = etree.tostring(self._app_header(), encoding="unicode")
        buffer = io.BufferedWriter(out, buffer_size=1 << 16)
        buffer.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<BizData xmlns="{NS_BIZ}"><Hdr>{header}'
            f'</Hdr><Pyld><Document xmlns="{NS_TX}"><FinInstrmRptgTxRpt>\n'.encode()
        )
        for row in self.rows():
            buffer.write(_transaction(row).encode())
        buffer.write(b"</FinInstrmRptgTxRpt></Document></Pyld></BizData>\n")
        buffer.flush()


def _person_or_algo(tag: str, kind: str, identifier: str, country: str) -> str:
    if kind == "algo":
        inner = f"<Algo>{escape(identifier)}</Algo>"
    elif kind == "client":
        inner = f"<Clnt>{escape(identifier)}</Clnt>"
    else:
        inner = (
            f"<Prsn><CtryOfBrnch>{escape(country)}</CtryOfBrnch><Othr><Id>{escape(identifier)}"
            f"</Id><SchmeNm><Cd>NIDN</Cd></SchmeNm></Othr></Prsn>"
        )
    return f"<{tag}>{inner}</{tag}>"


def _transaction(row: tuple) -> str:
    """One `Tx` element (in the auth.016 default namespace) as text."""
    (
        action,
        tx,
        executing,
        submitting,
        buyer_type,
        buyer,
        seller_type,
        seller,
        capacity,
        trade_time,
        quantity,
        price,
        currency,
        venue,
        country,
        isin,
        decision_type,
        decision,
        execution_type,
        execution,
        short,
        *_rest,
    ) = row
    ids = f"<TxId>{escape(tx)}</TxId><ExctgPty>{escape(executing)}</ExctgPty>"
    if action == CANCEL:
        return f"<Tx><Cxl>{ids}<SubmitgPty>{escape(submitting)}</SubmitgPty></Cxl></Tx>\n"
    decided = (
        _person_or_algo("InvstmtDcsnPrsn", decision_type, decision, country)
        if decision_type
        else ""
    )
    short_sale = f"<ShrtSellgInd>{short}</ShrtSellgInd>" if short else ""
    return (
        f"<Tx><New>{ids}<InvstmtPtyInd>true</InvstmtPtyInd>"
        f"<SubmitgPty>{escape(submitting)}</SubmitgPty>"
        f"<Buyr><AcctOwnr><Id><{buyer_type}>{escape(buyer)}</{buyer_type}></Id></AcctOwnr></Buyr>"
        f"<Sellr><AcctOwnr><Id><{seller_type}>{escape(seller)}</{seller_type}></Id></AcctOwnr>"
        f"</Sellr><OrdrTrnsmssn><TrnsmssnInd>false</TrnsmssnInd></OrdrTrnsmssn>"
        f"<Tx><TradDt>{trade_time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</TradDt>"
        f"<TradgCpcty>{capacity}</TradgCpcty><Qty><Unit>{decimal_str(quantity)}</Unit></Qty>"
        f'<Pric><Pric><MntryVal><Amt Ccy="{escape(currency)}">{decimal_str(price)}</Amt>'
        f"</MntryVal></Pric></Pric><TradVn>{escape(venue)}</TradVn>"
        f"<CtryOfBrnch>{escape(country)}</CtryOfBrnch></Tx>"
        f"<FinInstrm><Id>{escape(isin)}</Id></FinInstrm>{decided}"
        f"{_person_or_algo('ExctgPrsn', execution_type, execution, country)}"
        f"<AddtlAttrbts>{short_sale}<SctiesFincgTxInd>false</SctiesFincgTxInd></AddtlAttrbts>"
        f"</New></Tx>\n"
    )


def transaction_ids(source) -> set[str]:
    """The TxIds of the New transactions in a report file (a path or a binary file), streamed."""
    ids = set()
    for _event, element in etree.iterparse(source, tag=f"{{{NS_TX}}}New"):
        found = element.find(f"{{{NS_TX}}}TxId")
        if found is not None:
            ids.add(found.text)
        element.clear()
    return ids
