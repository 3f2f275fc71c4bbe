"""Surveillance benchmark: synthetic order and fill events with known injected patterns through
every detector. Prints events per second, peak memory, the detectors' state over the run (it
must follow the window, not the history), and how many injected patterns were found.

The events are generated in chunks outside the timed part; only the engine is timed.
Usage: python bench/surveillance.py [--events N] [--seed S]
"""

import argparse
import gc
import os
import random
import resource
import sys
import time
from collections import Counter, deque
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from apps.surveillance.detectors import DETECTORS  # noqa: E402
from apps.surveillance.engine import Engine  # noqa: E402
from apps.surveillance.runner import StreamContext  # noqa: E402
from apps.surveillance.stream import (  # noqa: E402
    CANCEL,
    EXEC,
    FILL,
    NEW,
    POSITION,
    Event,
)

ACCOUNTS = 2000
INSTRUMENTS = 100
STEP = 0.005  # seconds of stream time between background events (about 240 events a second)
EVENTS_PER_STEP = 1.2  # a fill is two events (the fill and the position after it)
# The NYSE close of Thursday 2026-11-19 (21:00 UTC) falls at about 90% of the stream, so the
# closing window lies inside it; the stream is longer than the longest window (30 minutes).
CLOSE = datetime(2026, 11, 19, 21, 0, tzinfo=UTC).timestamp()
CLOSING_INJECTIONS = (8 * 60, 5 * 60, 2 * 60)  # seconds before the close
CHUNK = 50_000
HOLDING = Decimal(10000)  # each account's existing book: 20 instruments of this value each


def mb(kilobytes: int) -> float:
    return kilobytes / 1024


class Generator:
    """Background flow that no detector should flag, with patterns injected at known points."""

    def __init__(self, total: int, seed: int):
        self.total = total
        self.rng = random.Random(seed)
        self.seq = 0
        self.start = CLOSE - 0.9 * total * STEP / EVENTS_PER_STEP
        self.ts = self.start
        self.next_order = 1
        self.next_fill = 1
        self.resting: dict[int, tuple] = {}  # order id -> (account, instrument, side, qty, px)
        self.resting_ids: deque = deque()
        self.positions: dict[tuple, Decimal] = {}
        self.refs = {f"I{i:03d}": Decimal(100 + i) for i in range(INSTRUMENTS)}
        self.injected: list[tuple[str, str, str]] = []  # (detector, account, instrument)
        self.pending: deque = deque()  # injected events waiting for their time
        # Inject every pattern several times, spread over the stream.
        self.plan = sorted(
            (int(total * f), kind)
            for kind, fractions in {
                "wash_trade": (0.05, 0.35, 0.65, 0.9),
                "spoofing": (0.1, 0.4, 0.7, 0.92),
                "layering": (0.15, 0.45, 0.75, 0.94),
                "rapid_fire": (0.2, 0.5, 0.8),
                "concentration": (0.25, 0.55, 0.85),
                "gate_reconciliation": (0.3, 0.6, 0.88),
            }.items()
            for f in fractions
        )
        self.special = 0

    # --- building events ------------------------------------------------------------------

    def _event(
        self,
        kind,
        order_id,
        account,
        instrument,
        side="",
        qty=None,
        price=None,
        ref=None,
        filled=None,
        fill_id=None,
        extra=None,
    ) -> Event:
        self.seq += 1
        return Event(
            self.seq,
            self.ts,
            kind,
            order_id,
            account,
            account,
            instrument,
            side,
            qty,
            price,
            ref,
            filled,
            fill_id,
            extra,
        )

    def _order(self, account, instrument, side, qty, price) -> Event:
        order_id = self.next_order
        self.next_order += 1
        return self._event(
            NEW, order_id, account, instrument, side, qty, price, self.refs[instrument], Decimal(0)
        )

    def _fill(self, order_id, account, instrument, side, qty, price) -> list[Event]:
        fill_id = self.next_fill
        self.next_fill += 1
        fill = self._event(
            FILL,
            order_id,
            account,
            instrument,
            side,
            qty,
            price,
            self.refs[instrument],
            qty,
            fill_id,
        )
        key = (account, instrument)
        held = self.positions.get(key, Decimal(0)) + (qty if side == "buy" else -qty)
        self.positions[key] = held
        position = self._event(POSITION, None, account, instrument, qty=held, fill_id=fill_id)
        return [fill, position]

    def _cancel(self, order_id, account, instrument, side, qty, price) -> Event:
        return self._event(
            CANCEL,
            order_id,
            account,
            instrument,
            side,
            qty,
            price,
            self.refs[instrument],
            Decimal(0),
        )

    # --- background -----------------------------------------------------------------------

    def _background(self) -> list[Event]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5 or len(self.resting) < 100:
            account = f"A{rng.randrange(ACCOUNTS):04d}"
            n = rng.randrange(INSTRUMENTS)
            instrument = f"I{n:03d}"
            # One side per account and instrument: nobody in the background trades both ways.
            side = "buy" if (int(account[1:]) + n) % 2 else "sell"
            qty = Decimal(rng.randint(40, 100))  # never 3x the usual: no background spoof
            bps = Decimal(rng.randint(-20, 20))  # within 20 bp of the reference
            price = (self.refs[instrument] * (1 + bps / 10000)).quantize(Decimal("0.01"))
            event = self._order(account, instrument, side, qty, price)
            self.resting[event.order_id] = (account, instrument, side, qty, price)
            self.resting_ids.append(event.order_id)
            return [event]
        order_id = self.resting_ids.popleft()
        placed = self.resting.pop(order_id, None)
        if placed is None:
            return []
        if roll < 0.8:  # a quote pulled (often quickly: market making)
            return [self._cancel(order_id, *placed)]
        account, instrument, side, qty, price = placed
        events = self._fill(order_id, account, instrument, side, qty, price)
        if roll > 0.97:  # the venue's drop copy of a fill the gate accepted: nothing to find
            events.append(
                self._exec(account, instrument, side, qty, price, order_id, "filled", qty, qty)
            )
        return events

    def _exec(self, account, instrument, side, qty, price, order_id, status, ordered, total):
        self.special += 1
        return self._event(
            EXEC,
            order_id,
            account,
            instrument,
            side,
            qty,
            price,
            extra={
                "execution_id": self.special,
                "exec_id": f"V{self.special}",
                "client_order_id": f"c{order_id or self.special}",
                "order_status": status,
                "order_quantity": ordered,
                "reported_total": total,
            },
        )

    # --- injected patterns ----------------------------------------------------------------

    def _inject(self, kind: str) -> None:
        """Queue a pattern's events, each at an offset in seconds from now."""
        self.special += 1
        account = f"M{self.special:04d}"
        instrument = f"I{self.rng.randrange(INSTRUMENTS):03d}"
        ref = self.refs[instrument]
        self.injected.append((kind, account, instrument))
        plan = []
        if kind == "wash_trade":
            plan = [
                (0.0, "trade", (account, instrument, "buy", Decimal(40), ref)),
                (2.0, "trade", (account, instrument, "sell", Decimal(40), ref)),
            ]
        elif kind == "spoofing":
            plan = [
                (i * 0.5, "rest", (account, instrument, "buy", Decimal(10), ref - 1))
                for i in range(6)
            ]
            plan += [
                (3.5, "spoof", (account, instrument, "buy", Decimal(500), ref - Decimal("0.2"))),
                (3.6, "trade", (account, instrument, "sell", Decimal(10), ref + Decimal("0.1"))),
                (4.5, "pull", None),
            ]
        elif kind == "layering":
            plan = [
                (i * 0.2, "rest", (account, instrument, "buy", Decimal(20), ref - 1 - i))
                for i in range(3)
            ]
            plan += [
                (1.0, "trade", (account, instrument, "sell", Decimal(5), ref + Decimal("0.1"))),
                (2.0, "pull_all", None),
            ]
        elif kind == "rapid_fire":
            plan = [
                (i * 0.3, "rest", (account, instrument, "buy", Decimal(1), ref)) for i in range(100)
            ]
        elif kind == "concentration":
            plan = [(0.0, "trade", (account, instrument, "buy", Decimal(1000), ref))]
        elif kind == "gate_reconciliation":
            plan = [(0.0, "ghost", (account, instrument, "buy", Decimal(7), ref))]
        elif kind == "marking_close":
            plan = [
                (0.0, "trade", (account, instrument, "buy", Decimal(50), ref * Decimal("1.008")))
            ]
        state = {"rest": []}
        for offset, action, args in plan:
            self.pending.append((self.ts + offset, action, args, state))

    def _due(self) -> list[Event]:
        events = []
        while self.pending and self.pending[0][0] <= self.ts:
            _, action, args, state = self.pending.popleft()
            if action in ("rest", "spoof"):
                event = self._order(*args)
                state["rest"].append((event.order_id, *args))
                if action == "spoof":
                    state["spoof"] = (event.order_id, *args)
                events.append(event)
            elif action == "trade":
                event = self._order(*args)
                events.append(event)
                events += self._fill(event.order_id, *args)
            elif action == "pull":
                events.append(self._cancel(*state["spoof"]))
            elif action == "pull_all":
                events += [self._cancel(*placed) for placed in state["rest"]]
            elif action == "ghost":
                account, instrument, side, qty, price = args
                events.append(
                    self._exec(account, instrument, side, qty, price, None, "", None, qty)
                )
        self.pending = deque(sorted(self.pending, key=lambda p: p[0]))
        return events

    def chunks(self):
        plan = deque(self.plan)
        closing = deque(CLOSE - before for before in CLOSING_INJECTIONS)
        chunk: list[Event] = []
        produced = 0
        while produced < self.total:
            self.ts += STEP
            if plan and produced >= plan[0][0]:
                self._inject(plan.popleft()[1])
            if closing and self.ts >= closing[0]:
                closing.popleft()
                self._inject("marking_close")
            batch = self._due() or self._background()
            chunk += batch
            produced += len(batch)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


class Context(StreamContext):
    """Calendars from exchange_calendars; every account starts with a diversified book."""

    def __init__(self):
        super().__init__({f"I{i:03d}": "XNYS" for i in range(INSTRUMENTS)})

    def book(self, account):
        return {f"H{i:02d}": [Decimal(100), HOLDING / 100] for i in range(20)}


def state_size(engine: Engine) -> int:
    """Entries held in the detectors' windows (deque items, dict entries)."""
    total = 0
    for detector in engine.detectors:
        for value in vars(detector).values():
            if isinstance(value, dict | deque | set | list):
                total += len(value)
                if isinstance(value, dict):
                    for inner in value.values():
                        if isinstance(inner, dict | deque | list):
                            total += len(inner)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    generator = Generator(args.events, args.seed)
    engine = Engine.build({name: {} for name in DETECTORS}, context=Context())
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine_seconds = 0.0
    processed = 0
    findings = []
    checkpoints = []
    marks = {args.events // 4, args.events // 2, 3 * args.events // 4}
    for chunk in generator.chunks():
        started = time.perf_counter()
        findings += engine.run(chunk)
        engine_seconds += time.perf_counter() - started
        before = processed
        processed += len(chunk)
        for mark in sorted(marks):
            if before < mark <= processed:
                checkpoints.append((processed, state_size(engine)))
    checkpoints.append((processed, state_size(engine)))
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    rate = processed / engine_seconds
    span = generator.ts - generator.start
    print(
        f"{processed:,} synthetic events ({ACCOUNTS} accounts, {INSTRUMENTS} instruments, "
        f"{span:,.0f} s of stream time) through {len(engine.detectors)} detectors"
    )
    print(
        f"  throughput   {rate:,.0f} events/s  ({engine_seconds:.2f} s in the detectors; "
        f"target at least 50,000: ratio {rate / 50000:.2f})"
    )
    print(
        f"  peak memory  {mb(rss_peak):.0f} MB for the process, {mb(rss_peak - rss_before):.0f} MB "
        "more than before the run (generator included)"
    )
    print(
        "  window state "
        + ", ".join(f"{n:,} events: {size:,} entries" for n, size in checkpoints)
        + "  (flat: bounded by the windows, not the history)"
    )
    found_by = Counter()
    missed = []
    for kind, account, instrument in generator.injected:
        hit = any(
            f.detector == kind and f.account == account and (f.instrument in ("", instrument))
            for f in findings
        )
        if hit:
            found_by[kind] += 1
        else:
            missed.append((kind, account, instrument))
    injected = Counter(kind for kind, _, _ in generator.injected)
    total_found = sum(found_by.values())
    print(
        f"  injected patterns found {total_found} of {len(generator.injected)}: "
        + ", ".join(f"{k} {found_by[k]}/{injected[k]}" for k in sorted(injected))
    )
    injected_accounts = {account for _, account, _ in generator.injected}
    noise = Counter(f.detector for f in findings if f.account not in injected_accounts)
    print(
        f"  findings on background flow (false positives): {sum(noise.values())}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(noise.items()))})" if noise else "")
    )
    if missed:
        print(f"  missed: {missed[:10]}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
