"""Surveillance benchmark: a generated trading day (apps/surveillance/simulation.py: market
makers, slicing algorithms, retail, and the abusive patterns and their look-alikes at labelled
times) through every detector. Prints events per second, peak memory, the detectors' state over
the run (it must follow the window, not the history), and each detector's precision and recall
against the labels.

A finding is matched to a label by detector, account (or the owner's accounts), instrument and
time window; findings with one key count as one alert, as the alert queue groups them.
The events are generated in chunks outside the timed part; only the engine is timed.
Usage: python bench/surveillance.py [--events N] [--seed S]
"""

import argparse
import gc
import os
import resource
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from apps.surveillance.detectors import DETECTORS  # noqa: E402
from apps.surveillance.engine import Engine  # noqa: E402
from apps.surveillance.simulation import INSTRUMENTS, Day, SimContext, score  # noqa: E402

TARGET_RATE = 50_000
TARGET_QUALITY = 0.9


def mb(kilobytes: int) -> float:
    return kilobytes / 1024


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


def shown(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    day = Day(events=args.events, seed=args.seed)
    engine = Engine.build({name: {} for name in DETECTORS}, context=SimContext(day))
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine_seconds = 0.0
    engine_cpu = 0.0
    processed = 0
    findings = []
    checkpoints = []
    marks = [args.events // 4, args.events // 2, 3 * args.events // 4]
    for chunk in day.chunks():
        started, cpu = time.perf_counter(), time.process_time()
        findings += engine.run(chunk)
        engine_seconds += time.perf_counter() - started
        engine_cpu += time.process_time() - cpu
        before = processed
        processed += len(chunk)
        for mark in marks:
            if before < mark <= processed:
                checkpoints.append((processed, state_size(engine)))
    checkpoints.append((processed, state_size(engine)))
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # CPU time of this process: on a shared machine the wall clock counts other work too
    rate = processed / engine_cpu
    wall_rate = processed / engine_seconds
    accounts = len(day.kinds)
    print(
        f"{processed:,} events of a generated day ({accounts:,} accounts, {INSTRUMENTS} "
        f"instruments, {day.span:,.0f} s to the close) through {len(engine.detectors)} detectors"
    )
    print(
        f"  throughput   {rate:,.0f} events/s of CPU time  ({engine_cpu:.2f} s in the "
        f"detectors; target at least {TARGET_RATE:,}: ratio {rate / TARGET_RATE:.2f}); "
        f"by the wall clock {wall_rate:,.0f} events/s"
    )
    print(
        f"  peak memory  {mb(rss_peak):.0f} MB for the process, {mb(rss_peak - rss_before):.0f} MB "
        "more than before the run (generator included)"
    )
    print(
        "  window state "
        + ", ".join(f"{n:,} events: {size:,} entries" for n, size in checkpoints)
        + "  (bounded by the windows, not the history: the longest, insider_dealing's 48 h "
        "look-back, keeps every fill of its span)"
    )
    abusive = sum(1 for label in day.labels if label.abusive)
    print(
        f"  labels       {abusive} abusive patterns, {len(day.labels) - abusive} look-alikes; "
        f"target precision and recall at least {TARGET_QUALITY} per detector"
    )
    scores = score(findings, day.labels)
    print(f"  {'detector':22s} {'alerts':>7s} {'true':>5s} {'labels':>6s} {'found':>5s}  "
          "precision  recall")  # fmt: skip
    short = []
    for name in sorted(set(scores) | set(DETECTORS)):
        s = scores.get(name)
        if s is None:
            print(f"  {name:22s} {0:7d} {0:5d} {0:6d} {0:5d}    -        -")
            continue
        present = "" if name in DETECTORS else "  (no such detector here)"
        print(
            f"  {name:22s} {s.alerts:7d} {s.true_alerts:5d} {s.labels:6d} {s.found:5d}  "
            f"   {shown(s.precision)}     {shown(s.recall)}{present}"
        )
        if any(v is not None and v < TARGET_QUALITY for v in (s.precision, s.recall)):
            short.append(name)
    if short:
        print(f"  below {TARGET_QUALITY}: {', '.join(short)}")
    return 0 if rate >= TARGET_RATE and not short else 1


if __name__ == "__main__":
    sys.exit(main())
