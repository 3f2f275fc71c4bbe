"""The compliance report for a period: what the gate decided and why, held orders and how long
approvals took, the kill switch, surveillance alerts, and whether the audit chain verifies.

Rows are (section, item, value) lines; the PDF shows each section as a table.

Two counts of orders are kept apart: the gate's decision at submission (accepted, rejected, held
for approval) and each order's status when the report was built (a held order that an approver
denied is rejected now, but was held at submission; an accepted order may be filled now).
"Rejections at submission by rule" counts, per rule, the orders the gate rejected in which that
rule failed with the action reject (a failed hold rule in a rejected order is not a rejection).
"""

from collections import Counter
from decimal import Decimal
from statistics import median

from django.db.models import Count, Q

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.killswitch.models import KillSwitch
from apps.reporting.builders.base import (
    CHUNK,
    NO_FILLS,
    PDF_TABLES,
    Chart,
    ReportBuilder,
    Summary,
    Table,
)
from apps.surveillance.models import Alert
from apps.surveillance.selectors import false_positive_rates
from apps.trading.models import Order, OrderStatus

MOST_BREACHED = 10
ACCEPTED, REJECTED, HELD = "accepted", "rejected", "held for approval"
SECTIONS = [
    ("checks", "Pre-trade checks"),
    ("decisions", "Gate decisions at submission"),
    ("status_now", "Orders by status when the report was built"),
    ("rejections_by_rule", "Rejections at submission by rule (rules whose action is reject)"),
    ("most_breached_rules", "Most breached rules (failed checks, by rule and action)"),
    ("held_orders", "Held orders and approval times"),
    ("kill_switch", "Kill switch events"),
    ("alerts", "Surveillance alerts by detector and disposition"),
    ("false_positive_rates", "False-positive rates of closed alerts"),
    ("audit_chain", "Audit chain verification"),
]


def _who(user, system: str = "") -> str:
    """Who set or lifted a kill switch: a user's name, the automated control that did it
    (surveillance halts an account with no user), or "unknown" when neither is recorded."""
    if user is not None:
        return user.get_username() or f"user #{user.pk}"
    if system:
        return f"system ({system})"
    return "unknown"


def _seconds(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"))


class ComplianceBuilder(ReportBuilder):
    report_type = "compliance"
    title = "Compliance report"
    description = (
        "Pre-trade checks and decisions, rule breaches, held orders and approval times, kill "
        "switch events, surveillance alerts, and the audit chain verification, for the period."
    )
    columns = ["section", "item", "value"]
    reads_fills = NO_FILLS  # orders, checks, approvals, alerts: no fill changes it
    pdf_contents = PDF_TABLES  # every row is in its section's table
    record_name = "items"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._sections: dict[str, list[tuple]] = {key: [] for key, _title in SECTIONS}

    def _in_period(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.period.start_at, f"{field}__lt": self.period.end_at})

    def _decisions(self):
        """Two counts that differ: the gate's answer at submission (a held order that was
        denied later was held, not rejected, at submission) and each order's status now."""
        orders = checks = 0
        outcomes, now, rejected_by, failed_by, warned_by = (Counter() for _ in range(5))
        rows = (
            Order.objects.filter(self._in_period("created_at"))
            .values_list("status", "checks", "approval__id")
            .order_by()
        )
        for status, results, approval_id in rows.iterator(chunk_size=CHUNK):
            orders += 1
            results = (
                [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
            )
            checks += len(results)
            now[status] += 1
            # Only a held order changes to rejected later (its approval denied): the others
            # still have the status the gate gave them, or moved on from accepted.
            if approval_id is not None or status == OrderStatus.PENDING_APPROVAL:
                outcome = HELD
            elif status == OrderStatus.REJECTED:
                outcome = REJECTED
            else:
                outcome = ACCEPTED
            outcomes[outcome] += 1
            for result in results:
                rule = str(result.get("rule") or "?")
                if result.get("status") == "fail" and not result.get("shadow"):
                    action = str(result.get("action") or "?")
                    failed_by[(rule, action)] += 1
                    if outcome == REJECTED and action == "reject":
                        rejected_by[rule] += 1
                elif result.get("status") == "warn":
                    warned_by[rule] += 1
        yield "checks", "orders submitted", orders
        yield "checks", "rule checks run", checks
        yield "checks", "warnings", sum(warned_by.values())
        for outcome in (ACCEPTED, REJECTED, HELD):
            yield "decisions", outcome, outcomes[outcome]
        for status, label in OrderStatus.choices:
            yield "status_now", label.lower(), now[status]
        for rule, count in sorted(rejected_by.items(), key=lambda kv: (-kv[1], kv[0])):
            yield "rejections_by_rule", rule, count
        breached = sorted(failed_by.items(), key=lambda kv: (-kv[1], kv[0]))[:MOST_BREACHED]
        for (rule, action), count in breached:
            yield "most_breached_rules", f"{rule} ({action})", count

    def _held(self):
        held = ApprovalRequest.objects.filter(self._in_period("requested_at"))
        by_status = dict(held.values_list("status").annotate(n=Count("id")).order_by())
        yield "held_orders", "held", sum(by_status.values())
        for status, label in ApprovalStatus.choices:
            yield "held_orders", label.lower(), by_status.get(status, 0)
        decided = held.filter(
            status__in=[ApprovalStatus.APPROVED, ApprovalStatus.DENIED], decided_at__isnull=False
        ).values_list("requested_at", "decided_at")
        waits = [(d - r).total_seconds() for r, d in decided.iterator(chunk_size=CHUNK)]
        if waits:
            yield "held_orders", "median time to decision (s)", _seconds(median(waits))
            yield "held_orders", "mean time to decision (s)", _seconds(sum(waits) / len(waits))
            yield "held_orders", "longest time to decision (s)", _seconds(max(waits))

    def _kill_switch(self):
        events = (
            KillSwitch.objects.filter(
                self._in_period("activated_at") | self._in_period("deactivated_at")
            )
            .select_related("activated_by", "deactivated_by")
            .order_by("activated_at", "id")
        )
        count = 0
        for switch in events:
            count += 1
            where = switch.target or "firm"
            who = _who(switch.activated_by, switch.activated_by_system)
            text = (
                f"{switch.state} by {who}: {switch.reason}; "
                f"{switch.canceled_orders} orders canceled"
            )
            if switch.deactivated_at:
                who = _who(switch.deactivated_by)
                text += f"; lifted {switch.deactivated_at:%Y-%m-%d %H:%M:%S}Z by {who}"
            yield (
                "kill_switch",
                f"{switch.activated_at:%Y-%m-%d %H:%M:%S}Z {switch.scope} {where}",
                text,
            )
        yield "kill_switch", "events", count

    def _alerts(self):
        rows = (
            Alert.objects.filter(self._in_period("created_at"))
            .values_list("detector", "disposition")
            .annotate(n=Count("id"))
            .order_by("detector", "disposition")
        )
        total = 0
        for detector, disposition, n in rows:
            total += n
            yield "alerts", f"{detector} / {disposition or 'not closed'}", n
        yield "alerts", "alerts raised", total
        for rate in false_positive_rates(start=self.period.start_at, end=self.period.end_at):
            if rate["closed"]:
                yield (
                    "false_positive_rates",
                    rate["detector"],
                    f"{rate['false_positive']} of {rate['closed']} ({rate['rate'] * 100:.1f}%)",
                )

    def _audit(self):
        from apps.audit.selectors import audit_verify
        from apps.audit.witness import WitnessError

        try:
            result = audit_verify()
        except (OSError, WitnessError) as exc:
            # The witness directory is configured but cannot be read: the report says the chain
            # was not checked rather than failing (the API's verify answers 503 for the same).
            yield "audit_chain", "verified", "NOT CHECKED"
            yield "audit_chain", "problem", f"the audit witness cannot be read: {exc}"
            return
        yield "audit_chain", "verified", "yes" if result.ok else "NO"
        yield "audit_chain", "events checked", result.events_checked
        yield "audit_chain", "last sequence number", result.last_seq or 0
        yield "audit_chain", "checkpoint tree size", result.checkpoint_tree_size or 0
        if not result.ok:
            yield "audit_chain", "first broken sequence number", result.first_bad_seq
            yield "audit_chain", "problem", result.problem

    def fetch(self):
        for part in (self._decisions, self._held, self._kill_switch, self._alerts, self._audit):
            yield from part()

    def accumulate(self, row) -> None:
        self._sections[row[0]].append(row[1:])

    def summary(self) -> Summary:
        found = {key: dict(rows) for key, rows in self._sections.items()}
        totals = [
            ("Orders submitted", found["checks"].get("orders submitted", 0)),
            ("Rule checks run", found["checks"].get("rule checks run", 0)),
            ("Rejected at submission", found["decisions"].get(REJECTED, 0)),
            ("Held for approval at submission", found["decisions"].get(HELD, 0)),
            (
                "Rejected now (at submission, or held and denied)",
                found["status_now"].get("rejected", 0),
            ),
            ("Kill switch events", found["kill_switch"].get("events", 0)),
            ("Surveillance alerts", found["alerts"].get("alerts raised", 0)),
            ("Audit chain verified", found["audit_chain"].get("verified", "?")),
        ]
        tables = [
            Table(title, ["Item", "Value"], [list(r) for r in self._sections[key]])
            for key, title in SECTIONS
            if self._sections[key]
        ]
        decisions = self._sections["decisions"]
        breached = self._sections["most_breached_rules"]
        charts = [
            Chart(
                "Gate decisions at submission",
                [r[0] for r in decisions],
                [r[1] for r in decisions],
            ),
            Chart("Most breached rules", [r[0] for r in breached], [r[1] for r in breached]),
        ]
        return Summary(totals, tables, charts)
