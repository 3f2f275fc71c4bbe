"""What-if replay: how would past orders have fared under the proposed rules?

Before a rule goes live (or is edited, put in shadow testing or retired) a compliance officer
asks: which of the orders we took would it have stopped? `replay` re-evaluates the orders
created in a period twice: against the current active rules alone (the baseline) and against
the current active rules plus the proposed ones, compiled as if they were active. What changes
between the two is the proposal's doing, and only that is counted as newly rejected, held or
passing. Where the baseline differs from the decision recorded at submission (positions and
prices have moved, or the rules changed since) the row says so, apart: the active rules
re-judging an old order are not the proposal's effect.

Limitations, on purpose (this is a what-if, not a reconstruction of the past):

- The context is built from today's data: positions, open orders (working exposure), credit
  limits and reference prices are as they are now, not as they were when the order was sent.
  Daily counters (orders, cancels, filled notional) are the final totals of the order's day.
- Time-dependent rules see the order's own time: trading hours, the restricted list in force
  then, and the effective window of the current active rules.
- A proposed rule is replayed as if it had always been in force: its effective window is
  ignored (a rule proposed to start next month is still tested against last month).
- A kill switch that stopped an order at the time still counts; other gate errors do not.

Nothing is stored: the replay reads, evaluates in memory, and reports.
"""

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Q

from apps.core.types import decimal_str
from apps.killswitch.check import KILL_SWITCH_RULE
from apps.rules import engine, gate
from apps.rules.models import (
    ComplianceRule,
    RuleChange,
    RuleChangeKind,
    RuleChangeStatus,
    RuleStatus,
)
from apps.rules.services import snapshot_values
from apps.trading.models import Order

NEWLY_REJECTED, NEWLY_HELD, NEWLY_PASSING, UNCHANGED = (
    "newly_rejected",
    "newly_held",
    "newly_passing",
    "unchanged",
)
# The rule statuses replayed by default as proposals (with `rules=None`).
PROPOSAL_STATUSES = (RuleStatus.DRAFT, RuleStatus.PENDING_APPROVAL)


@dataclass(frozen=True)
class ReplayRow:
    order_id: int
    client_order_id: str
    created_at: datetime
    account: str
    instrument: str
    side: str
    quantity: Decimal
    limit_price: Decimal | None
    order_status: str  # the order's status today (filled, canceled, ...)
    recorded: str  # the decision at submission, from its stored checks
    replayed: str  # the decision under the current active rules plus the proposed ones
    rejecting: tuple[str, ...] = ()  # rules that reject it in the replay
    holding: tuple[str, ...] = ()  # rules that hold it for approval in the replay
    recorded_blocking: tuple[str, ...] = ()  # rules that rejected or held it at submission
    error: str = ""
    baseline: str = ""  # the decision under the current active rules alone (default: recorded)
    baseline_blocking: tuple[str, ...] | None = None  # rules that block it in the baseline

    def __post_init__(self) -> None:
        if not self.baseline:
            object.__setattr__(self, "baseline", self.recorded)
        if self.baseline_blocking is None:
            object.__setattr__(self, "baseline_blocking", self.recorded_blocking)

    @property
    def blocking(self) -> tuple[str, ...]:
        return self.rejecting + self.holding

    @property
    def outcome(self) -> str:
        """What the proposal changes: the replay against the baseline, not the record."""
        if self.replayed == self.baseline:
            return UNCHANGED
        if self.replayed == engine.REJECTED:
            return NEWLY_REJECTED
        if self.replayed == engine.PENDING:
            return NEWLY_HELD
        return NEWLY_PASSING

    @property
    def changed(self) -> bool:
        return self.outcome != UNCHANGED

    @property
    def drifted(self) -> bool:
        """The active rules alone decide it differently today than at submission."""
        return self.baseline != self.recorded


@dataclass
class ReplayReport:
    date_from: datetime
    date_to: datetime  # exclusive
    rules: list[str]  # codes of the rules replayed as proposals
    retired: list[str]  # codes of the rules replayed as retired (a pending retirement)
    active_rules: int  # how many current active rules the replay also applied
    rows: list[ReplayRow] = field(default_factory=list)

    @property
    def changed(self) -> list[ReplayRow]:
        return [r for r in self.rows if r.changed]

    def _with(self, outcome: str) -> list[ReplayRow]:
        return [r for r in self.rows if r.outcome == outcome]

    @property
    def newly_rejected(self) -> list[ReplayRow]:
        return self._with(NEWLY_REJECTED)

    @property
    def newly_held(self) -> list[ReplayRow]:
        return self._with(NEWLY_HELD)

    @property
    def newly_passing(self) -> list[ReplayRow]:
        return self._with(NEWLY_PASSING)

    @property
    def drifted(self) -> list[ReplayRow]:
        return [r for r in self.rows if r.drifted]

    @property
    def by_rule(self) -> dict[str, dict[str, list[int]]]:
        """rule code -> {"rejected": order ids newly rejected by it, "held": ..., "passing":
        order ids it blocked at submission and no longer blocks}."""
        out: dict[str, dict[str, list[int]]] = defaultdict(
            lambda: {"rejected": [], "held": [], "passing": []}
        )
        for row in self.changed:
            if row.outcome == NEWLY_REJECTED:
                for code in row.rejecting:
                    out[code]["rejected"].append(row.order_id)
            elif row.outcome == NEWLY_HELD:
                for code in row.holding:
                    out[code]["held"].append(row.order_id)
            for code in row.baseline_blocking:
                if code not in row.blocking:
                    out[code]["passing"].append(row.order_id)
        return dict(sorted(out.items()))

    @property
    def totals(self) -> dict[str, int]:
        return {
            "orders": len(self.rows),
            NEWLY_REJECTED: len(self.newly_rejected),
            NEWLY_HELD: len(self.newly_held),
            NEWLY_PASSING: len(self.newly_passing),
            "errors": sum(1 for r in self.rows if r.error),
            "drifted": len(self.drifted),
        }

    def summary(self) -> str:
        """One paragraph: for the admin's message and the end of the command's output."""
        t = self.totals
        last = self.date_to - timedelta(microseconds=1)  # date_to is exclusive
        period = f"{self.date_from:%Y-%m-%d} to {last:%Y-%m-%d}"
        rules = ", ".join(self.rules) or "no proposed rules"
        if self.retired:
            rules += f"; retiring {', '.join(self.retired)}"
        parts = [
            f"Replayed {t['orders']} orders ({period}) against {self.active_rules} active "
            f"rules plus {rules}: the proposal makes {t[NEWLY_REJECTED]} newly rejected, "
            f"{t[NEWLY_HELD]} newly held, {t[NEWLY_PASSING]} newly passing."
        ]
        for code, ids in self.by_rule.items():
            bits = [f"{k} {_ids(v)}" for k, v in ids.items() if v]
            parts.append(f"{code}: {'; '.join(bits)}.")
        if t["errors"]:
            parts.append(f"{t['errors']} orders could not be evaluated (counted as rejected).")
        if t["drifted"]:
            parts.append(
                f"Apart from the proposal, the active rules alone would decide {t['drifted']} of "
                "these orders differently today than at submission (positions, prices or rules "
                "have changed since): not counted above."
            )
        return " ".join(parts)


def _ids(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{len(ids)} ({shown}{more})"


def _bounds(date_from, date_to) -> tuple[datetime, datetime]:
    """Dates are whole UTC days, both included; datetimes are taken as they are."""

    def start(value) -> datetime:
        if isinstance(value, datetime):
            return value
        return datetime.combine(value, time.min, tzinfo=UTC)

    lower = start(date_from)
    upper = (
        date_to
        if isinstance(date_to, datetime)
        else datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    )
    if upper <= lower:
        raise ValueError("date_to must not be before date_from")
    return lower, upper


def _as_proposed(rule: ComplianceRule, change: RuleChange | None) -> ComplianceRule | None:
    """A copy of the rule as it would be once its proposal is approved, forced active; None
    when the proposal retires it."""
    if change is not None and change.kind == RuleChangeKind.RETIRE:
        return None
    proposed = copy.copy(rule)
    if change is not None:
        for name, value in snapshot_values(change.proposed, resolve_entity=False).items():
            setattr(proposed, name, value)
    proposed.status = RuleStatus.ACTIVE
    proposed.effective_from = proposed.effective_until = None
    return proposed


def baseline_ruleset() -> engine.RuleSet:
    """The current active rules as they are: what the proposal is compared with."""
    return engine.compile_rules(list(ComplianceRule.objects.filter(status=RuleStatus.ACTIVE)), 0)


def replay_ruleset(
    rules: list[ComplianceRule] | None = None, *, include_testing: bool = True
) -> tuple[engine.RuleSet, list[str], list[str], int]:
    """The rule set to replay with: (ruleset, proposed codes, retired codes, active count).

    `rules`: the rules to try (draft, testing, pending, or with a pending change); None takes
    every draft rule, every rule awaiting approval and every rule with a pending change.
    `include_testing` adds the rules in shadow testing, as if they went live.
    """
    if rules is None:
        chosen = list(
            ComplianceRule.objects.filter(
                Q(status__in=PROPOSAL_STATUSES) | Q(changes__status=RuleChangeStatus.PENDING)
            ).distinct()
        )
    else:
        chosen = list(rules)
    if include_testing:
        seen = {r.pk for r in chosen}
        chosen += [
            r for r in ComplianceRule.objects.filter(status=RuleStatus.TESTING) if r.pk not in seen
        ]
    pending = {
        c.rule_id: c
        for c in RuleChange.objects.filter(
            rule_id__in=[r.pk for r in chosen], status=RuleChangeStatus.PENDING
        )
    }
    proposed, retired = [], []
    for rule in chosen:
        as_proposed = _as_proposed(rule, pending.get(rule.pk))
        if as_proposed is None:
            retired.append(rule.code)
        else:
            proposed.append(as_proposed)
    replaced = {r.pk for r in chosen}
    active = [
        r for r in ComplianceRule.objects.filter(status=RuleStatus.ACTIVE) if r.pk not in replaced
    ]
    ruleset = engine.compile_rules([*active, *proposed], version=0)
    return ruleset, sorted(r.code for r in proposed), sorted(retired), len(active)


def _blocking(checks: list[dict], action: str | None = None) -> tuple[str, ...]:
    """Codes of the rules whose failure blocks the order (with `action`: only those)."""
    return tuple(
        c["rule"]
        for c in checks
        if c.get("status") == "fail"
        and not c.get("shadow")
        and c.get("action") in ((action,) if action else ("reject", "hold"))
    )


def replay(
    *,
    date_from: date | datetime,
    date_to: date | datetime,
    rules: list[ComplianceRule] | None = None,
    include_testing: bool = True,
) -> ReplayReport:
    """Re-evaluate the orders created from `date_from` to `date_to` (dates: whole UTC days,
    both included) against the current active rules plus the proposed ones.

    Uses today's positions, exposures and prices, not those of the order's time: see the
    module's docstring for what that means for each kind of rule.
    """
    lower, upper = _bounds(date_from, date_to)
    ruleset, codes, retired, active = replay_ruleset(rules, include_testing=include_testing)
    baseline = baseline_ruleset()
    report = ReplayReport(
        date_from=lower, date_to=upper, rules=codes, retired=retired, active_rules=active
    )
    orders = (
        Order.objects.filter(created_at__gte=lower, created_at__lt=upper)
        .select_related("account", "instrument__underlying", "submitted_by")
        .order_by("created_at", "id")
    )
    users: dict[int, object] = {}  # one role lookup per submitter (if a rule asks), not per order
    for order in orders.iterator(chunk_size=500):
        user = None
        if order.submitted_by_id:
            user = users.setdefault(order.submitted_by_id, order.submitted_by)
        recorded_checks = order.checks or []
        recorded = engine.decide(recorded_checks) if recorded_checks else engine.ACCEPTED
        pre = [
            c
            for c in recorded_checks
            if c.get("rule") == KILL_SWITCH_RULE and c.get("status") == "fail"
        ]
        before = _evaluate(baseline, order, user, pre)
        after = _evaluate(ruleset, order, user, pre)
        report.rows.append(
            ReplayRow(
                order_id=order.pk,
                client_order_id=order.client_order_id,
                created_at=order.created_at,
                account=order.account.code,
                instrument=order.instrument.symbol,
                side=order.side,
                quantity=order.quantity,
                limit_price=order.limit_price,
                order_status=order.status,
                recorded=recorded,
                replayed=after[0],
                rejecting=_blocking(after[1], "reject"),
                holding=_blocking(after[1], "hold"),
                recorded_blocking=_blocking(recorded_checks),
                error=after[2] or before[2],
                baseline=before[0],
                baseline_blocking=_blocking(before[1]),
            )
        )
    return report


def _evaluate(ruleset, order, user, pre) -> tuple[str, list[dict], str]:
    """(decision, checks, error) of one order under a rule set, as if it were amended: its own
    open quantity and duplicates of itself do not count. An error fails closed, as the gate."""
    try:
        ctx = gate.build_context(
            gate.order_intent(gate.OrderRequest.from_order(order), user),
            account=order.account,
            user=user,
            types=ruleset.types,
            now=order.created_at,
            own=order,
        )
        ctx.market_band_pct = ruleset.market_band(ctx)
        decision, checks = engine.evaluate(ruleset, ctx, pre_checks=pre)
    except Exception as exc:  # noqa: BLE001 - fail closed, as the gate does
        return engine.REJECTED, [], f"{type(exc).__name__}: {exc}"
    return decision, checks, ""


def format_table(rows: list[ReplayRow]) -> str:
    """A fixed-width table of replayed orders, for the command and the logs."""
    header = (
        "order",
        "created (UTC)",
        "account",
        "instrument",
        "side",
        "quantity",
        "limit",
        "recorded",
        "today",
        "replayed",
        "outcome",
        "blocking rules",
    )
    lines = [
        (
            f"#{r.order_id}",
            f"{r.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            r.account,
            r.instrument,
            r.side,
            decimal_str(r.quantity),
            decimal_str(r.limit_price) or "market",
            r.recorded,
            r.baseline,
            r.replayed,
            r.outcome,
            ", ".join([*r.rejecting, *(f"{c} (hold)" for c in r.holding)])
            or (r.error and f"error: {r.error}")
            or "-",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(*[header, *lines], strict=True)]
    out = []
    for i, line in enumerate([header, *lines]):
        out.append("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
