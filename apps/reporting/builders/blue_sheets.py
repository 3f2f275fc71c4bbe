"""Blue sheets (SEC Rule 17a-25, Electronic Blue Sheets): on a regulator's request, every trade
in one symbol over a date range, with who the account belongs to.

The fields and their order follow the EBS record layout of FINRA Regulatory Notice 20-19
(Attachment A), written as CSV or JSON columns rather than the 80-byte fixed records
(docs/reporting.md says which field is filled from what). The customer's name, address, tax
identifier and date of birth are personal data: only a Compliance Officer or above may request
or download this report, and its stored summary carries none of them.
"""

from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.core.types import quantize
from apps.reporting.builders.base import CHUNK, ReportBuilder, Summary, Table
from apps.trading.models import Fill, FillStatus, Side
from apps.trading.pricing import notional

EASTERN = ZoneInfo("America/New_York")
ZERO = Decimal("0")
# EBS buy/sell codes (record 1): 0 buy, 1 sale, 2 short sale. A short sale exempt from Reg SHO's
# price test is a short sale to the blue sheets; `short_sale_exempt` says which.
BUY_SELL_CODES = {
    Side.BUY: "0",
    Side.SELL: "1",
    Side.SELL_SHORT: "2",
    Side.SELL_SHORT_EXEMPT: "2",
}


def cusip_of(isin: str) -> str:
    """The CUSIP inside a US or Canadian ISIN (characters 3-11); empty for the others."""
    return isin[2:11] if isin[:2] in ("US", "CA") and len(isin) == 12 else ""


def net_amount(side: str, gross: Decimal, commission: Decimal) -> Decimal:
    """What the customer paid (a buy: gross plus commission) or received (a sale: gross less
    commission)."""
    return quantize(gross + commission if side == Side.BUY else gross - commission)


class BlueSheetsBuilder(ReportBuilder):
    report_type = "blue_sheets"
    title = "Blue sheets (SEC Rule 17a-25)"
    description = (
        "Every execution in the requested symbol in the period (UTC days), in the order of the "
        "EBS record layout, with the account's customer record."
    )
    formats = ("csv", "json")
    record_name = "trades"
    personal_data = True
    columns = [
        "request_reference",
        "submitting_broker_number",
        "transaction_date",
        "order_execution_time",
        "symbol",
        "cusip",
        "isin",
        "buy_sell_code",
        "short_sale_exempt",
        "quantity",
        "trade_price",
        "net_amount",
        "exchange_code",
        "executing_broker",
        "opposing_broker",
        "account_number",
        "customer_name",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
        "tax_id",
        "tax_id_kind",
        "date_of_birth",
        "primary_party_identifier",
        "large_trader_id",
        "trading_capacity",
        "trade_number",
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        parameters = self.options.get("parameters") or {}
        self.symbol = parameters.get("symbol", "")
        self.request_reference = parameters.get("request_reference", "")
        self._by_code = defaultdict(lambda: [0, ZERO])
        self._accounts: set[str] = set()
        self._without_record: set[str] = set()

    def fetch(self):
        broker = settings.EBS_BROKER_NUMBER
        fills = (
            Fill.objects.filter(
                status=FillStatus.ACTIVE,
                order__instrument__symbol=self.symbol,
                executed_at__gte=self.period.start_at,
                executed_at__lt=self.period.end_at,
            )
            .order_by("executed_at", "id")
            .values_list(
                "executed_at",
                "order__instrument__symbol",
                "order__instrument__isin",
                "order__side",
                "quantity",
                "price",
                "order__instrument__multiplier",
                "commission",
                "venue",
                "counterparty_lei",
                "order__account__code",
                "order__account__trading_capacity",
                "order__account__beneficial_owner_id",
                "order__account__beneficial_owner__name",
                "order__account__beneficial_owner__lei",
                "order__account__beneficial_owner__customer_record__legal_name",
                "order__account__beneficial_owner__customer_record__street",
                "order__account__beneficial_owner__customer_record__city",
                "order__account__beneficial_owner__customer_record__state",
                "order__account__beneficial_owner__customer_record__postal_code",
                "order__account__beneficial_owner__customer_record__country",
                "order__account__beneficial_owner__customer_record__tax_id",
                "order__account__beneficial_owner__customer_record__tax_id_kind",
                "order__account__large_trader_id",
                "order__account__beneficial_owner__customer_record__id",
                "order__account__beneficial_owner__person__birth_date",
                "exec_id",
            )
        )
        for row in fills.iterator(chunk_size=CHUNK):
            (executed_at, symbol, isin, side, quantity, price, multiplier, commission, venue,
             counterparty_lei, account, capacity, owner_id, owner_name, owner_lei, legal_name,
             street, city, state, postal_code, country, tax_id, tax_id_kind, ltid, record_id,
             birth_date, exec_id) = row  # fmt: skip
            if record_id is None:
                self._without_record.add(account)
            yield (
                self.request_reference,
                broker,
                executed_at.date(),
                executed_at.astimezone(EASTERN).strftime("%H%M%S"),
                symbol,
                cusip_of(isin),
                isin,
                BUY_SELL_CODES[side],
                side == Side.SELL_SHORT_EXEMPT,
                quantity,
                price,
                net_amount(side, notional(quantity, price, multiplier), commission),
                venue,
                broker,
                counterparty_lei or venue,
                account,
                legal_name or owner_name,
                street or "",
                city or "",
                state or "",
                postal_code or "",
                country or "",
                tax_id or "",
                tax_id_kind or "",
                birth_date,
                owner_lei or f"BO-{owner_id}",
                ltid or "",
                capacity,
                exec_id,
            )

    def accumulate(self, row) -> None:
        code = row[7]
        per = self._by_code[code]
        per[0] += 1
        per[1] += row[9]
        self._accounts.add(row[15])

    def summary(self) -> Summary:
        # Counts only: the stored summary is shown to readers below Compliance Officer, so it
        # carries no name, address or tax identifier.
        totals = [
            ("Request reference", self.request_reference),
            ("Symbol", self.symbol),
            ("Trades", self.record_count),
            ("Accounts", len(self._accounts)),
            ("Accounts without a customer record", len(self._without_record)),
        ]
        names = {"0": "Buy", "1": "Sale", "2": "Short sale"}
        table = Table(
            "By buy/sell code",
            ["Code", "Meaning", "Trades", "Quantity"],
            [[code, names[code], *self._by_code[code]] for code in sorted(self._by_code)],
        )
        return Summary(totals, [table], [])
