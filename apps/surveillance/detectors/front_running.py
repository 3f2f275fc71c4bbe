"""Front running (MAR art. 7(1)(d): a pending client order is inside information to whoever
executes it; art. 8 and 14; MiFID II art. 28 client order handling): a
proprietary or staff account trading an instrument on the same side as a client order the firm
already holds and has not yet filled (one worth at least the minimum), with an order placed
within minutes after the client's. The house
account's own strategy that was already trading that instrument and side before the client
order came in is not front running; nor is a market maker's quoting, trading the other side
(facilitation), or trading after the client order is done.

Which accounts are the house's and which are clients' comes from the context
(`account_kind(code)`: `proprietary`, `staff`, `client` or `market_maker`)."""

from decimal import Decimal

from apps.surveillance.detectors.account_kinds import CLIENT, HOUSE, account_kind_reader
from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, prune_keys, score_of
from apps.surveillance.stream import ACCEPT, CANCEL, DENY, EXPIRE, FILL, NEW

HELD = "held"  # a client order held for approval: the firm knows of it all the same


class FrontRunningDetector(Detector):
    name = "front_running"
    severity = "critical"
    params_spec = {
        "max_pending_seconds": Param(
            int,
            3600,
            1,
            "A client order is watched for this many seconds after it came in (or until done).",
            86400,
        ),
        "max_lag_seconds": Param(
            int,
            300,
            1,
            "The house order placed at most this many seconds after the client order.",
            86400,
        ),
        "min_client_value": Param(
            Decimal,
            "100000",
            Decimal(0),
            "Client orders worth at least this (firm currency) are watched: smaller ones move "
            "no price worth running ahead of.",
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (NEW, HELD, ACCEPT, FILL, CANCEL, EXPIRE, DENY)

    def setup(self) -> None:
        self.max_pending = float(self.params["max_pending_seconds"])
        self.max_lag = float(self.params["max_lag_seconds"])
        self.min_value = self.params["min_client_value"]
        value_factor = getattr(self.context, "value_factor", None)
        self.value_factor = value_factor if callable(value_factor) else (lambda s: Decimal(1))
        # (instrument, side) -> {order id: [ts, account, owner, quantity, filled]}
        self.client_open: dict[tuple, dict] = {}
        self.house_orders: dict[int, float] = {}  # house order id -> when it was placed
        # (account, instrument, side) -> [first, last]: a house account's run of activity
        self.house_activity: dict[tuple, list] = {}
        self.kind_of = account_kind_reader(self.context)

    def horizon(self) -> float:
        return self.max_pending

    def sweep(self, now: float) -> None:
        cutoff = now - self.max_pending
        for key in list(self.client_open):
            book = self.client_open[key]
            for order_id in [o for o, row in book.items() if row[0] < cutoff]:
                del book[order_id]
            if not book:
                del self.client_open[key]
        for order_id in [o for o, ts in self.house_orders.items() if ts < cutoff]:
            del self.house_orders[order_id]
        prune_keys(self.house_activity, cutoff, lambda row: row[1])

    def feed_new(self, ev) -> None:
        kind = self.kind_of(ev.account)
        if kind == CLIENT:
            price = ev.price or ev.reference_price or Decimal(0)
            if ev.quantity * price * self.value_factor(ev.instrument) < self.min_value:
                return None
            book = self.client_open.setdefault((ev.instrument, ev.side), {})
            if ev.order_id not in book:
                book[ev.order_id] = [ev.ts, ev.account, ev.owner, ev.quantity, Decimal(0)]
        elif kind in HOUSE:
            self.house_orders.setdefault(ev.order_id, ev.ts)
            key = (ev.account, ev.instrument, ev.side)
            run = self.house_activity.get(key)
            if run is None or ev.ts - run[1] > self.max_pending:
                self.house_activity[key] = [ev.ts, ev.ts]
            else:
                run[1] = ev.ts
        return None

    feed_accept = feed_held = feed_new

    def feed_cancel(self, ev) -> None:
        book = self.client_open.get((ev.instrument, ev.side))
        if book is not None:
            book.pop(ev.order_id, None)
        self.house_orders.pop(ev.order_id, None)
        return None

    feed_expire = feed_deny = feed_cancel

    def feed_fill(self, ev) -> Finding | None:
        kind = self.kind_of(ev.account)
        key = (ev.instrument, ev.side)
        if kind == CLIENT:
            book = self.client_open.get(key)
            row = book.get(ev.order_id) if book else None
            if row is not None:
                row[4] += ev.quantity
                if row[4] >= row[3]:
                    del book[ev.order_id]
            return None
        if kind not in HOUSE:
            return None
        book = self.client_open.get(key)
        if not book:
            return None
        placed = self.house_orders.get(ev.order_id, ev.ts)
        run = self.house_activity.get((ev.account, ev.instrument, ev.side))
        started = run[0] if run else placed
        ahead = [
            (order_id, row)
            for order_id, row in book.items()
            if row[0] < started
            and placed - row[0] <= self.max_lag
            and row[2] != ev.owner
            and ev.ts - row[0] <= self.max_pending
        ]
        if not ahead:
            return None
        return self._finding(ev, kind, placed, ahead)

    def _finding(self, ev, kind, placed, ahead) -> Finding:
        first_id, first = ahead[0]
        waiting = sum(row[3] - row[4] for _, row in ahead)
        after = placed - first[0]
        score = Decimal("0.8") + (Decimal("0.1") if kind == "staff" else 0)
        score += Decimal("0.1") if after <= 60 else 0
        clients = sorted({row[1] for _, row in ahead})
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{ev.account}:{ev.instrument}:{first_id}",
            account=ev.account,
            instrument=ev.instrument,
            score=score_of(score),
            title=(
                f"Front running in {ev.instrument}: {kind} account {ev.account} {ev.side} "
                f"{ev.quantity} at {ev.price}, {after:.1f} s after client order #{first_id} "
                f"({', '.join(clients[:3])}) on the same side, {waiting} still unfilled"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=first[0],
            window_end=ev.ts,
            orders=(*(order_id for order_id, _ in ahead[:50]), ev.order_id),
            fills=(ev.fill_id,),
            details={
                "grouping": "account",
                "account_kind": kind,
                "owner": ev.owner,
                "client_accounts": clients,
                "client_orders": [order_id for order_id, _ in ahead[:50]],
                "client_quantity_unfilled": str(waiting),
                "seconds_after_client_order": round(after, 3),
                "quantity": str(ev.quantity),
                "price": str(ev.price),
            },
        )
