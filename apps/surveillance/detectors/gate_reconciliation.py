"""Gate reconciliation (SEC 15c3-5): what the venue says executed, against what the gate
decided. A fill with no order the gate accepted is a missing risk check; a fill on an order it
rejected is a risk override; more filled than ordered is an overfill. Each is critical."""

from decimal import Decimal

from apps.surveillance.detectors.base import Detector, Finding, Param
from apps.surveillance.stream import EXEC

NEVER_ACCEPTED = {"pending_approval"}
REJECTED = {"rejected"}


class GateReconciliationDetector(Detector):
    name = "gate_reconciliation"
    severity = "critical"
    params_spec = {
        "dedup_seconds": Param(
            int,
            86400,
            0,
            "Seconds during which further executions of the same order add to its alert.",
        ),
    }
    kinds = (EXEC,)

    def horizon(self) -> float:
        return 0.0

    def feed_exec(self, ev) -> list[Finding]:
        extra = ev.extra
        status = extra["order_status"]
        client_order_id = extra["client_order_id"]
        found = []
        if ev.order_id is None or status in NEVER_ACCEPTED:
            if ev.order_id is None:
                why = f"no order {client_order_id!r} ever passed the gate"
            else:
                why = f"order #{ev.order_id} was still waiting for approval"
            found.append(self._finding(ev, "missing_risk_check", "Missing risk check", why))
        elif status in REJECTED:
            why = f"the gate rejected order #{ev.order_id}"
            found.append(self._finding(ev, "risk_override", "Risk override", why))
        ordered = extra["order_quantity"]
        if ordered is not None and extra["reported_total"] > ordered:
            why = f"{extra['reported_total']} executed against {ordered} ordered"
            found.append(self._finding(ev, "overfill", "Overfill", why))
        return found

    def _finding(self, ev, kind: str, label: str, why: str) -> Finding:
        extra = ev.extra
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{kind}:{ev.account}:{extra['client_order_id']}",
            account=ev.account,
            instrument=ev.instrument,
            score=Decimal(1),
            title=(
                f"{label}: {ev.side} {ev.quantity} {ev.instrument} @ {ev.price} executed "
                f"({extra['exec_id']}) but {why}"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=ev.ts,
            window_end=ev.ts,
            orders=(ev.order_id,) if ev.order_id else (),
            executions=(extra["execution_id"],),
            details={
                "finding": kind,
                "exec_id": extra["exec_id"],
                "client_order_id": extra["client_order_id"],
                "order_status": extra["order_status"],
                "reported_total": str(extra["reported_total"]),
                "order_quantity": None
                if extra["order_quantity"] is None
                else str(extra["order_quantity"]),
            },
        )
