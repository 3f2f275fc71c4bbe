"""Order tickets (SEC Rule 17a-3(a)(6)): the memorandum of every order entered in the period.

One row per order entered in the period (UTC days, in entry order), whatever became of it:
its terms, who entered it and for which account, the capacity, whether it was discretionary
(`metadata.discretionary`), the gate's decision with the checks that failed or warned, the
approver of a held order, and the times of its modifications, cancel or expiry (from the audit
trail, the record of each change) and executions (its active fills). It shows each order as it
stands when the report is built.
"""

import json
from collections import defaultdict
from itertools import islice

from django.db.models import Count, Max, Min

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.reporting.builders.base import CHUNK, PDF_LISTING, ReportBuilder, Summary, Table
from apps.reporting.builders.blotter import CAPACITY, SHORT_MARKING, order_capacity
from apps.trading.models import Fill, FillStatus, Order, OrderStatus, side_direction

ORDER_OBJECT = "trading.order"
HELD = "pending_approval"
CHANGE_EVENTS = (EventType.ORDER_AMENDED, EventType.ORDER_CANCELED, EventType.ORDER_EXPIRED)
NOT_PASSED = ("fail", "warn")


def gate_decision(status: str, held: bool) -> str:
    """What the gate answered at entry: a held order went to approval whatever followed."""
    if held:
        return HELD
    return OrderStatus.REJECTED if status == OrderStatus.REJECTED else OrderStatus.ACCEPTED


def checks_not_passed(checks) -> str:
    """The checks that failed or warned, `RULE=status`, in the gate's order."""
    if not isinstance(checks, list):
        return ""
    return "; ".join(
        f"{c.get('rule', '')}={c.get('status')}"
        for c in checks
        if isinstance(c, dict) and c.get("status") in NOT_PASSED
    )


def is_discretionary(metadata) -> bool:
    if not isinstance(metadata, dict):
        return False
    flag = metadata.get("discretionary")
    return flag is True or (isinstance(flag, str) and flag.lower() in ("true", "yes", "1"))


class OrderTicketsBuilder(ReportBuilder):
    report_type = "order_tickets"
    title = "Order tickets (SEC 17a-3(a)(6))"
    description = "Every order entered in the period (UTC), in entry order, as it stands now."
    formats = ("csv", "json", "pdf")
    pdf_contents = PDF_LISTING
    record_name = "order tickets"
    columns = [
        "order_id",
        "client_order_id",
        "entered_at",
        "entered_by",
        "account",
        "account_name",
        "symbol",
        "isin",
        "buy_sell",
        "short_marking",
        "order_type",
        "quantity",
        "limit_price",
        "time_in_force",
        "expire_at",
        "capacity",
        "decision_source",
        "discretionary",
        "gate_decision",
        "checks_run",
        "checks_not_passed",
        "approval_status",
        "approval_decided_by",
        "approval_decided_at",
        "status",
        "filled_quantity",
        "avg_fill_price",
        "amendments",
        "amendments_refused",
        "last_modified_at",
        "canceled_at",
        "canceled_by",
        "expired_at",
        "executions",
        "first_execution_at",
        "last_execution_at",
    ]

    def listing_columns(self) -> list[str]:
        return [
            "Entered (UTC)",
            "Order",
            "By",
            "Account",
            "Symbol",
            "B/S",
            "Short",
            "Type",
            "Qty",
            "Limit",
            "TIF",
            "Gate",
            "Approver",
            "Status",
            "Filled",
            "Modified",
            "Canceled",
            "Last exec.",
        ]

    def listing_row(self, row: tuple) -> list:
        return [
            row[2],
            row[0],
            row[3],
            row[4],
            row[6],
            *row[8:13],
            row[13],
            row[18],
            row[22],
            row[24],
            row[25],
            row[29],
            row[30],
            row[35],
        ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._decisions = defaultdict(int)
        self._statuses = defaultdict(int)
        # per account: [orders, accepted, rejected, held, amended, canceled, executed]
        self._account = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
        self._rules = defaultdict(int)  # failed or warned checks, by rule

    def _orders(self):
        return (
            Order.objects.filter(
                created_at__gte=self.period.start_at, created_at__lt=self.period.end_at
            )
            .order_by("created_at", "id")
            .values_list(
                "pk",
                "client_order_id",
                "created_at",
                "submitted_by__username",
                "account__code",
                "account__name",
                "account__trading_capacity",
                "instrument__symbol",
                "instrument__isin",
                "side",
                "order_type",
                "quantity",
                "limit_price",
                "time_in_force",
                "expire_at",
                "metadata",
                "checks",
                "approval__status",
                "approval__decided_by__username",
                "approval__decided_at",
                "status",
                "filled_quantity",
                "avg_fill_price",
            )
            .iterator(chunk_size=CHUNK)
        )

    @staticmethod
    def _changes(ids: list[int]) -> dict[int, dict]:
        """Per order: applied and refused amendments, the last applied one's time, the cancel
        (time, who) and the expiry time, from the audit trail."""
        changes = defaultdict(lambda: {"amended": 0, "refused": 0, "modified": None})
        events = (
            AuditEvent.objects.filter(
                object_type=ORDER_OBJECT,
                object_id__in=[str(i) for i in ids],
                event_type__in=CHANGE_EVENTS,
            )
            .order_by("seq")
            .values_list("object_id", "event_type", "occurred_at", "actor", "record")
        )
        for object_id, event_type, occurred_at, actor, record in events:
            change = changes[int(object_id)]
            if event_type == EventType.ORDER_AMENDED:
                if json.loads(record)["payload"].get("amended", True) is False:
                    change["refused"] += 1
                else:
                    change["amended"] += 1
                    change["modified"] = occurred_at
            elif event_type == EventType.ORDER_CANCELED:
                change["canceled"] = (occurred_at, actor)
            else:
                change["expired"] = occurred_at
        return changes

    @staticmethod
    def _executions(ids: list[int]) -> dict[int, tuple]:
        rows = (
            Fill.objects.filter(order_id__in=ids, status=FillStatus.ACTIVE)
            .values("order_id")
            .annotate(n=Count("id"), first=Min("executed_at"), last=Max("executed_at"))
            .values_list("order_id", "n", "first", "last")
            .order_by()
        )
        return {order_id: (n, first, last) for order_id, n, first, last in rows}

    def fetch(self):
        orders = self._orders()
        while batch := list(islice(orders, CHUNK)):
            ids = [row[0] for row in batch]
            changes = self._changes(ids)
            executions = self._executions(ids)
            for (
                pk,
                client_order_id,
                created_at,
                username,
                account,
                account_name,
                account_capacity,
                symbol,
                isin,
                side,
                order_type,
                quantity,
                limit_price,
                tif,
                expire_at,
                metadata,
                checks,
                approval_status,
                decided_by,
                decided_at,
                status,
                filled,
                avg_price,
            ) in batch:
                change = changes.get(pk, {})
                canceled_at, canceled_by = change.get("canceled", (None, ""))
                fills, first, last = executions.get(pk, (0, None, None))
                metadata = metadata if isinstance(metadata, dict) else {}
                yield (
                    pk,
                    client_order_id,
                    created_at,
                    username or "",
                    account,
                    account_name,
                    symbol,
                    isin,
                    side_direction(side),
                    SHORT_MARKING.get(side, ""),
                    order_type,
                    quantity,
                    limit_price,
                    tif,
                    expire_at,
                    CAPACITY[order_capacity(metadata, account_capacity)],
                    str(metadata.get("decision_source", "")),
                    is_discretionary(metadata),
                    gate_decision(status, approval_status is not None),
                    len(checks) if isinstance(checks, list) else 0,
                    checks_not_passed(checks),
                    approval_status or "",
                    decided_by or "",
                    decided_at,
                    status,
                    filled,
                    avg_price,
                    change.get("amended", 0),
                    change.get("refused", 0),
                    change.get("modified"),
                    canceled_at,
                    canceled_by,
                    change.get("expired"),
                    fills,
                    first,
                    last,
                )

    def accumulate(self, row) -> None:
        decision, not_passed, status = row[18], row[20], row[24]
        self._decisions[decision] += 1
        self._statuses[status] += 1
        per = self._account[row[4]]
        per[0] += 1
        per[{OrderStatus.ACCEPTED: 1, OrderStatus.REJECTED: 2}.get(decision, 3)] += 1
        per[4] += 1 if row[27] else 0
        per[5] += 1 if row[30] is not None else 0
        per[6] += 1 if row[33] else 0
        for check in filter(None, not_passed.split("; ")):
            self._rules[check] += 1

    def summary(self) -> Summary:
        totals: list[tuple[str, object]] = [("Order tickets", self.record_count)]
        for decision in (OrderStatus.ACCEPTED, OrderStatus.REJECTED, HELD):
            totals.append((f"Gate: {decision}", self._decisions.get(decision, 0)))
        by_status = Table(
            "By status now",
            ["Status", "Orders"],
            [[s, n] for s, n in sorted(self._statuses.items())],
        )
        by_account = Table(
            "By account",
            [
                "Account",
                "Orders",
                "Accepted",
                "Rejected",
                "Held",
                "Amended",
                "Canceled",
                "Executed",
            ],
            [[a, *v] for a, v in sorted(self._account.items())],
        )
        by_rule = Table(
            "Checks not passed, by rule",
            ["Rule and result", "Orders"],
            [[r, n] for r, n in sorted(self._rules.items(), key=lambda kv: (-kv[1], kv[0]))],
        )
        return Summary(totals, [by_status, by_account, by_rule], [])
