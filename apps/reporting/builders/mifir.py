"""MiFIR transaction report (RTS 22): one ISO 20022 `BizData` file per period.

`BizData` (head.003) holds the business application header `AppHdr` (head.001) and the
`FinInstrmRptgTxRpt` document (auth.016): one transaction per fill of an instrument in the
scope of MiFIR art. 26 (`Instrument.mifir_reportable`; the summary lists what was left out).
Which fills go in with which action is the report's life (`apps.reporting.lifecycle`):
against what the regulator holds for the period, a `Tx/New` for each fill it does not hold,
a `Tx/Cxl` and a `Tx/New` for each whose content changed, a `Tx/Cxl` for each no longer
reported, nothing for the unchanged. The XML is written one transaction at a time, the CSV
carries the same rows.

Parties (apps.reporting.identifiers): the trading capacity is the account's, or the order's
`metadata.trading_capacity`. Under DEAL the firm is the buyer or seller, under AOTC and MTCH the
client (its LEI, or a natural person's national identifier or CONCAT), with the client's decision
maker when a power of attorney is on the account. The other side is the CCP's LEI, the venue's
MIC, or off venue the counterparty's LEI. Fields 57 and 59 are an algorithm's code or a member
of staff's identifier. A transaction whose parties cannot be identified, an invalid ISIN or MIC,
or an invalid firm LEI refuses the whole file: nothing is stored (`MifirReportRefused`).

The short-selling indicator (field 62, `ShrtSellgInd`) is judged for the seller
(`short_selling_indicator`): the client's own position under AOTC/MTCH, the firm's book (every
DEAL account together) under DEAL.

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
from django.db.models import Case, Count, DecimalField, F, Sum, When
from lxml import etree

from apps.core.errors import ValidationFailed
from apps.core.types import decimal_str
from apps.rbac.models import StaffIdentity
from apps.reporting.builders.base import (
    CHUNK,
    FILLS_TO_PERIOD_END,
    Chart,
    ReportBuilder,
    Summary,
    Table,
)
from apps.reporting.identifiers import (
    LEI,
    PERSON,
    Party,
    PartyProblem,
    client_party,
    counterparty,
    decision_maker,
    firm_lei_problem,
    isin_problem,
    mic_problem,
    staff_code,
)
from apps.reporting.lifecycle import Ledger, content_hash, transaction_reference
from apps.trading.models import (
    Account,
    AssetClass,
    Fill,
    FillStatus,
    Side,
    TradingCapacity,
    is_sell,
    signed_quantity,
)
from apps.trading.venues import OFF_VENUE

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
# Trading capacities as plain strings (compared once per fill).
DEAL = TradingCapacity.DEAL.value
CAPACITIES = frozenset(TradingCapacity.values)
# Problems listed in a refusal (the first ones: one is enough to fix the data).
MAX_PROBLEMS = 50


class MifirReportRefused(ValidationFailed):
    """The file would misreport: nothing is stored (a 400 naming every problem found)."""

    code = "mifir_report_invalid"


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


def algo_id(strategy: str) -> str:
    return _code(strategy, 50) or "ALGO"


class MifirTransactionsBuilder(ReportBuilder):
    report_type = "mifir_transactions"
    title = "MiFIR transaction report (RTS 22)"
    description = (
        "One transaction per fill of a MiFIR-reportable instrument executed in the period, "
        "with its trading capacity, parties and decision makers."
    )
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
        "buyer_decision_maker",
        "seller_decision_maker",
    ]

    def __init__(self, *, ledger: Ledger | None = None, version: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger if ledger is not None else Ledger()
        self.version = version
        # What the file carries, for the table of reported transactions:
        # (action, reference, fill id, version, trade date, content hash).
        self.lines: list[tuple[str, str, int, int, object, str]] = []
        self.lei = settings.REPORTING_FIRM_LEI
        problem = firm_lei_problem(self.lei)
        if problem is not None:
            raise MifirReportRefused(
                "The firm's LEI is missing or invalid: no MiFIR report can be built.",
                code="firm_lei_invalid",
                details={"REPORTING_FIRM_LEI": [problem]},
            )
        self.country = settings.REPORTING_FIRM_COUNTRY
        self.authority_country = (
            self.entity.nca_country if self.entity is not None else ""
        ) or settings.REPORTING_AUTHORITY_COUNTRY
        self.problems: list[str] = []
        self._left_out: list[tuple[str, str, int]] = []
        self._capacities = defaultdict(int)
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

    # --- who is who ---------------------------------------------------------------------------

    def _accounts(self) -> dict[int, Account]:
        """Every account with its owner, the owner's identity and its decision maker: read once
        (accounts are few; fills are many)."""
        accounts = Account.objects.select_related(
            "beneficial_owner__person", "decision_maker__person"
        )
        return {a.pk: a for a in accounts}

    def _staff(self) -> dict[int, StaffIdentity]:
        return {s.user_id: s for s in StaffIdentity.objects.all()}

    def _problem(self, exec_id: str, account: str, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"fill {exec_id} ({account}): {text}")
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("... and more")

    def client(self, account: Account) -> Party:
        """The client of an account under AOTC or MTCH (RTS 22 fields 7-11 / 16-20)."""
        owner = account.beneficial_owner
        return client_party(
            account_lei=account.lei,
            owner_lei=owner.lei,
            person=getattr(owner, "person", None),
            branch_country=self.country,
        )

    def client_decision_maker(self, account: Account) -> Party | None:
        """Fields 12-15 / 21-24: who decides for the client under a power of attorney."""
        owner = account.decision_maker
        return decision_maker(owner, getattr(owner, "person", None) if owner else None)

    def decided_and_executed(self, metadata: dict, user_id, capacity: str, staff) -> tuple:
        """Fields 57 (investment decision within the firm) and 59 (execution within the firm),
        each (kind, identifier): an algorithm's code, a person of the firm, or ("", "") for no
        decision within the firm (the client decided: AOTC, MTCH) and ("client", "NORE") for an
        execution the client decided."""
        if metadata.get("decision_source") == "algo":
            algo = ("algo", algo_id(str(metadata.get("strategy", ""))))
            return (algo if capacity == DEAL else ("", "")), algo
        if user_id is None:
            return ("", ""), ("client", "NORE")
        person = ("person", staff_code(staff.get(user_id), firm_country=self.country))
        return (person if capacity == DEAL else ("", "")), person

    def _left_out_fills(self) -> list[tuple[str, str, int]]:
        """Fills of the period in instruments outside MiFIR art. 26: (symbol, class, count)."""
        rows = (
            Fill.objects.filter(
                executed_at__gte=self.period.start_at,
                executed_at__lt=self.period.end_at,
                order__instrument__mifir_reportable=False,
            )
            .values_list("order__instrument__symbol", "order__instrument__asset_class")
            .annotate(n=Count("id"))
            .order_by("order__instrument__symbol")
        )
        return list(rows)

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
        self._left_out = self._left_out_fills()
        accounts = self._accounts()
        staff = self._staff()
        # Each seller's position per instrument: (account id, instrument id) for a client
        # (AOTC/MTCH), (None, instrument id) for the firm's own book: the DEAL accounts summed
        # (the short-sale flag is the seller's).
        as_firm = {pk for pk, a in accounts.items() if a.trading_capacity == TradingCapacity.DEAL}
        positions = defaultdict(lambda: ZERO)
        for (account_id, instrument_id), net in self._opening_positions().items():
            positions[(None if account_id in as_firm else account_id, instrument_id)] += net
        firm = Party(LEI, self.lei)
        clients: dict[int, tuple] = {}
        fills = (
            Fill.objects.filter(
                status=FillStatus.ACTIVE,
                executed_at__gte=self.period.start_at,
                executed_at__lt=self.period.end_at,
                order__instrument__mifir_reportable=True,
            )
            .order_by("executed_at", "id")
            .values_list(
                "pk",
                "exec_id",
                "executed_at",
                "quantity",
                "price",
                "venue",
                "counterparty_lei",
                "order_id",
                "order__side",
                "order__metadata",
                "order__submitted_by_id",
                "order__account_id",
                "order__instrument_id",
                "order__instrument__symbol",
                "order__instrument__isin",
                "order__instrument__currency",
                "order__instrument__asset_class",
                "order__instrument__multiplier",
            )
        )
        checked_isins: set[str] = set()
        checked_venues: dict[tuple, str | None] = {}
        other_sides: dict[str, Party] = {}  # a venue's CCP or MIC (off venue: each fill's own)
        for (
            pk,
            exec_id,
            executed_at,
            quantity,
            price,
            venue,
            counterparty_lei,
            order_id,
            side,
            metadata,
            user_id,
            account_id,
            instrument_id,
            symbol,
            isin,
            currency,
            asset_class,
            multiplier,
        ) in fills.iterator(chunk_size=CHUNK):
            account = accounts[account_id]
            metadata = metadata if isinstance(metadata, dict) else {}
            capacity = metadata.get("trading_capacity") or account.trading_capacity
            if capacity not in CAPACITIES:
                capacity = account.trading_capacity
            if isin not in checked_isins:
                checked_isins.add(isin)
                if problem := isin_problem(isin, symbol):
                    self._problem(exec_id, account.code, problem)
            day = executed_at.date()
            if (venue, day) not in checked_venues:
                checked_venues[(venue, day)] = mic_problem(venue, day)
            if problem := checked_venues[(venue, day)]:
                self._problem(exec_id, account.code, problem)
            try:
                if venue == OFF_VENUE:
                    other = counterparty(venue, counterparty_lei)
                else:
                    if venue not in other_sides:
                        other_sides[venue] = counterparty(venue, "")
                    other = other_sides[venue]
                if capacity == DEAL:
                    us, our_maker = firm, None
                else:
                    if account_id not in clients:
                        clients[account_id] = (
                            self.client(account),
                            self.client_decision_maker(account),
                        )
                    us, our_maker = clients[account_id]
                decision, execution = self.decided_and_executed(metadata, user_id, capacity, staff)
            except PartyProblem as exc:
                self._problem(exec_id, account.code, str(exc))
                continue
            key = (None if capacity == DEAL else account_id, instrument_id)
            before = positions[key]
            positions[key] = before + signed_quantity(side, quantity)
            if is_sell(side):
                buyer, seller, buyer_maker, seller_maker = other, us, None, our_maker
            else:
                buyer, seller, buyer_maker, seller_maker = us, other, our_maker, None
            short = short_selling_indicator(side, asset_class, before, quantity)
            yield (
                pk,
                exec_id,
                (
                    NEW,
                    "",
                    self.lei,
                    self.lei,
                    buyer.type,
                    buyer,
                    seller.type,
                    seller,
                    capacity,
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
                    account.code,
                    multiplier,
                    buyer_maker,
                    seller_maker,
                ),
            )
        if self.problems:
            raise MifirReportRefused(
                f"{len(self.problems)} transaction(s) cannot be reported as MiFIR wants: "
                "nothing was stored. Correct the reference data and build again.",
                details={"problems": self.problems},
            )

    def accumulate(self, row) -> None:
        self._actions[row[0]] += 1
        if row[0] == NEW:
            self._capacities[row[8]] += 1
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
            *[(f"Capacity {c}", self._capacities[c]) for c in TradingCapacity.values],
            ("Fills left out: not MiFIR reportable", sum(n for *_, n in self._left_out)),
            ("Executing entity LEI", self.lei),
        ]
        venues = sorted(self._venues.items(), key=lambda kv: (-kv[1], kv[0]))
        table = Table("Transactions by venue", ["Venue", "Transactions"], [list(v) for v in venues])
        left_out = Table(
            "Fills left out of the report",
            ["Instrument", "Asset class", "Fills", "Why"],
            [
                [symbol, asset_class, n, "not in the scope of MiFIR art. 26"]
                for symbol, asset_class, n in self._left_out
            ],
        )
        chart = Chart("Transactions by venue", [v for v, _ in venues], [c for _, c in venues])
        return Summary(totals, [table, left_out], [chart])

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
        to.append(party(self.authority_country, "NCA"))
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


def _person_or_algo(tag: str, kind: str, identifier) -> str:
    """Field 57 or 59: an algorithm, a person of the firm (a `StaffCode`), or NORE."""
    if kind == "algo":
        inner = f"<Algo>{escape(identifier)}</Algo>"
    elif kind == "client":
        inner = f"<Clnt>{escape(identifier)}</Clnt>"
    else:
        inner = (
            f"<Prsn><CtryOfBrnch>{escape(identifier.branch_country)}</CtryOfBrnch>"
            f"<Othr>{_person_id(identifier.id, identifier.scheme)}</Othr></Prsn>"
        )
    return f"<{tag}>{inner}</{tag}>"


def _person_id(identifier: str, scheme: str) -> str:
    """`Id` and `SchmeNm` of a person: NIDN and CCPT are ISO codes, CONCAT is proprietary."""
    name = "<Prtry>CONCAT</Prtry>" if scheme == "CONCAT" else f"<Cd>{escape(scheme)}</Cd>"
    return f"<Id>{escape(identifier)}</Id><SchmeNm>{name}</SchmeNm>"


def _identity(party: Party) -> str:
    """A party's `Id` content: LEI, MIC, or a person with names and date of birth."""
    if party.kind == PERSON:
        return (
            f"<Prsn><FrstNm>{escape(party.first_names)}</FrstNm><Nm>{escape(party.surnames)}"
            f"</Nm><BirthDt>{party.birth_date.isoformat()}</BirthDt>"
            f"<Othr>{_person_id(party.id, party.scheme)}</Othr></Prsn>"
        )
    return f"<{party.kind}>{escape(party.id)}</{party.kind}>"


def _side(tag: str, party: Party, maker: Party | None) -> str:
    """`Buyr` or `Sellr`: the account owner (with the branch country of a client) and the
    decision maker under a power of attorney."""
    branch = (
        f"<CtryOfBrnch>{escape(party.branch_country)}</CtryOfBrnch>" if party.branch_country else ""
    )
    owner = f"<AcctOwnr><Id>{_identity(party)}</Id>{branch}</AcctOwnr>"
    decider = f"<DcsnMakr>{_identity(maker)}</DcsnMakr>" if maker is not None else ""
    return f"<{tag}>{owner}{decider}</{tag}>"


def _transaction(row: tuple) -> str:
    """One `Tx` element (in the auth.016 default namespace) as text."""
    (
        action,
        tx,
        executing,
        submitting,
        _buyer_type,
        buyer,
        _seller_type,
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
        _exec_id,
        _order_id,
        _account,
        _multiplier,
        buyer_maker,
        seller_maker,
    ) = row
    ids = f"<TxId>{escape(tx)}</TxId><ExctgPty>{escape(executing)}</ExctgPty>"
    if action == CANCEL:
        return f"<Tx><Cxl>{ids}<SubmitgPty>{escape(submitting)}</SubmitgPty></Cxl></Tx>\n"
    decided = _person_or_algo("InvstmtDcsnPrsn", decision_type, decision) if decision_type else ""
    short_sale = f"<ShrtSellgInd>{short}</ShrtSellgInd>" if short else ""
    return (
        f"<Tx><New>{ids}<InvstmtPtyInd>true</InvstmtPtyInd>"
        f"<SubmitgPty>{escape(submitting)}</SubmitgPty>"
        f"{_side('Buyr', buyer, buyer_maker or None)}{_side('Sellr', seller, seller_maker or None)}"
        f"<OrdrTrnsmssn><TrnsmssnInd>false</TrnsmssnInd></OrdrTrnsmssn>"
        f"<Tx><TradDt>{trade_time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</TradDt>"
        f"<TradgCpcty>{capacity}</TradgCpcty><Qty><Unit>{decimal_str(quantity)}</Unit></Qty>"
        f'<Pric><Pric><MntryVal><Amt Ccy="{escape(currency)}">{decimal_str(price)}</Amt>'
        f"</MntryVal></Pric></Pric><TradVn>{escape(venue)}</TradVn>"
        f"<CtryOfBrnch>{escape(country)}</CtryOfBrnch></Tx>"
        f"<FinInstrm><Id>{escape(isin)}</Id></FinInstrm>{decided}"
        f"{_person_or_algo('ExctgPrsn', execution_type, execution)}"
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
