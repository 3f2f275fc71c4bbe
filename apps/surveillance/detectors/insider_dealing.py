"""Insider-dealing indicators (MAR art. 8 and 14; reported under art. 16 and Delegated
Regulation 2016/957): an account building a position in an issuer's instruments in
the days before the firm put that issuer (or instrument) on its watch list or restricted list,
that is before the firm, and whoever leaked it, held inside information.

The lists come from the context (`list_additions()`: each addition's time, list, id, instrument
and issuer). A trade is kept for the look-back; when the stream passes an addition's time, the
accounts that traded its instruments in the look-back mostly one way (net at least the share
given of what they traded), for at least the minimum value, and mostly in that issuer (at least
`min_focus` of all they traded then: unusual for the account) are reported. Market makers, who
trade everything both ways, are left out. An addition recorded late (backdated past events
already analysed) is seen by a replay of that period."""

from collections import deque
from decimal import Decimal

from apps.surveillance.detectors.account_kinds import MARKET_MAKER, account_kind_reader
from apps.surveillance.detectors.base import DEDUP, Detector, Finding, Param, pop_older, score_of
from apps.surveillance.stream import FILL

EVIDENCE_FILLS = 100


class InsiderDealingDetector(Detector):
    name = "insider_dealing"
    severity = "critical"
    params_spec = {
        "lookback_hours": Param(
            int, 48, 1, "Trades this many hours before a list addition count.", 24 * 30
        ),
        "min_value": Param(
            Decimal,
            "250000",
            Decimal(0),
            "The net position built, in the firm's currency, at least this.",
        ),
        "min_focus": Param(
            Decimal,
            "0.5",
            Decimal(0),
            "The issuer's share of all the account traded in the look-back at least this: "
            "unusual for the account, not one name among many.",
            Decimal(1),
        ),
        "min_net_share": Param(
            Decimal,
            "0.8",
            Decimal(0),
            "Net over gross quantity traded at least this (trading one way).",
            Decimal(1),
        ),
        "dedup_seconds": DEDUP,
    }
    kinds = (FILL,)

    def setup(self) -> None:
        self.lookback = self.params["lookback_hours"] * 3600.0
        self.min_value = self.params["min_value"]
        self.min_share = self.params["min_net_share"]
        self.min_focus = self.params["min_focus"]
        # instrument -> deque of (ts, account, owner, signed quantity, price, fill id, order id)
        self.trades: dict[str, deque] = {}
        self.done: set = set()  # (list, entry id) already evaluated
        self.pending: list = []  # additions not yet passed, by time
        self.seen_version = None
        ctx = self.context
        self.kind_of = account_kind_reader(ctx)
        self.additions = getattr(ctx, "list_additions", None)
        self.symbols_of = getattr(ctx, "symbols_of_issuer", None)
        value_factor = getattr(ctx, "value_factor", None)
        self.value_factor = value_factor if callable(value_factor) else (lambda s: Decimal(1))

    def horizon(self) -> float:
        return self.lookback

    def sweep(self, now: float) -> None:
        cutoff = now - self.lookback
        for symbol in list(self.trades):
            queue = self.trades[symbol]
            pop_older(queue, cutoff)
            if not queue:
                del self.trades[symbol]

    def _refresh(self) -> None:
        version, additions = self.additions()
        if version == self.seen_version:
            return
        self.seen_version = version
        self.pending = sorted(
            (a for a in additions if (a[1], a[2]) not in self.done), key=lambda a: a[0]
        )

    def feed_fill(self, ev) -> list[Finding] | None:
        found = None
        if self.additions is not None:
            self._refresh()
            while self.pending and self.pending[0][0] <= ev.ts:
                addition = self.pending.pop(0)
                self.done.add((addition[1], addition[2]))
                hits = self._evaluate(addition, ev)
                if hits:
                    found = (found or []) + hits
        if self.kind_of(ev.account) != MARKET_MAKER:
            queue = self.trades.get(ev.instrument)
            if queue is None:
                queue = self.trades[ev.instrument] = deque()
            signed = ev.quantity if ev.side == "buy" else -ev.quantity
            queue.append((ev.ts, ev.account, ev.owner, signed, ev.price, ev.fill_id, ev.order_id))
        return found

    def _evaluate(self, addition, ev) -> list[Finding]:
        at, list_name, entry_id, symbol, issuer, reason = addition
        if symbol:
            symbols = [symbol]
        elif self.symbols_of is not None:
            symbols = self.symbols_of(issuer)
        else:
            symbols = []
        start = at - self.lookback
        candidates = []
        for sym in symbols:
            by_account: dict[str, list] = {}
            for ts, account, owner, signed, price, fill_id, order_id in self.trades.get(sym, ()):
                if ts < start or ts >= at:
                    continue
                row = by_account.get(account)
                if row is None:
                    row = by_account[account] = [owner, Decimal(0), Decimal(0), Decimal(0), [], []]
                row[1] += signed
                row[2] += abs(signed)
                row[3] += signed * price
                row[4].append((ts, fill_id))
                row[5].append(order_id)
            factor = self.value_factor(sym)
            for account, (owner, net, gross, value, fills, orders) in by_account.items():
                value = abs(value) * factor
                if not gross or abs(net) / gross < self.min_share or value < self.min_value:
                    continue
                candidates.append((sym, account, owner, net, gross, value, fills, orders))
        if not candidates:
            return []
        # how much each candidate traded in everything over the look-back
        wanted = {c[1] for c in candidates}
        traded: dict[str, Decimal] = dict.fromkeys(wanted, Decimal(0))
        issuer_value: dict[str, Decimal] = dict.fromkeys(wanted, Decimal(0))
        for sym, queue in self.trades.items():
            factor = self.value_factor(sym)
            mine = sym in symbols
            for ts, account, _, signed, price, _, _ in queue:
                if account in wanted and start <= ts < at:
                    value = abs(signed) * price * factor
                    traded[account] += value
                    if mine:
                        issuer_value[account] += value
        findings = []
        for sym, account, owner, net, gross, value, fills, orders in candidates:
            focus = issuer_value[account] / traded[account] if traded[account] else Decimal(1)
            if focus < self.min_focus:
                continue
            findings.append(
                self._finding(ev, addition, sym, account, owner, net, gross, value, fills, orders)
            )
            findings[-1].details["focus"] = str(focus.quantize(Decimal("0.01")))
        return findings

    def _finding(
        self, ev, addition, symbol, account, owner, net, gross, value, fills, orders
    ) -> Finding:
        at, list_name, entry_id, by_symbol, issuer, reason = addition
        by_issuer = not by_symbol
        first = fills[0][0]
        hours = (at - first) / 3600
        direction = "bought" if net > 0 else "sold"
        # nearer the addition and larger against the threshold: more suspicious
        nearness = Decimal(1) - Decimal(str(round(hours * 3600 / self.lookback, 4)))
        size = min(value / self.min_value, Decimal(4)) / 4 if self.min_value else Decimal(1)
        what = f"issuer {issuer}" if by_issuer else symbol
        return Finding(
            detector=self.name,
            severity=self.severity,
            key=f"{self.name}:{account}:{symbol}:{list_name}:{entry_id}",
            account=account,
            instrument=symbol,
            score=score_of(Decimal("0.6") + nearness / 5 + size / 5),
            title=(
                f"Trading ahead of a {list_name.replace('_', ' ')} addition: {account} "
                f"{direction} {abs(net)} {symbol} in the {hours:.1f} h before {what} was added"
            ),
            seq=ev.seq,
            ts=ev.ts,
            window_start=first,
            window_end=at,
            orders=tuple(dict.fromkeys(orders))[-EVIDENCE_FILLS:],
            fills=tuple(f for _, f in fills)[-EVIDENCE_FILLS:],
            details={
                "grouping": "account",
                "owner": owner,
                "list": list_name,
                "entry_id": entry_id,
                "issuer": issuer,
                "reason": reason,
                "added_at": at,
                "net_quantity": str(net),
                "gross_quantity": str(gross),
                "value": str(value.quantize(Decimal("0.01"))),
                "hours_before": round(hours, 2),
            },
        )
