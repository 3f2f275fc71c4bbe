"""Monitoring benchmarks, in process, on a throwaway database.

1. The metric updates the gate makes per decision (prometheus_client, multiprocess mode): time per
   decision, and its share of the engine's per-order budget (150 µs, bench/pretrade.py).
2. One monitor run over a synthetic firm (ACCOUNTS accounts x INSTRUMENTS instruments, a year of
   daily closes, every portfolio rule): time per run, and its share of the 60 s interval.

Usage: python bench/monitoring.py [--accounts 200] [--instruments 50] [--days 260]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-prometheus-")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import django_on_test_database, drop_test_database  # noqa: E402

ENGINE_BUDGET_US = 150.0
INTERVAL_S = 60.0


def bench_metric_updates(rounds: int = 20000) -> None:
    from apps.core.metrics import pretrade_observe

    checks = [
        {"rule": f"R{i}", "status": "pass", "code": "ok", "action": "reject"} for i in range(18)
    ]
    checks += [
        {"rule": "PROVENANCE-1", "status": "warn", "code": "missing_signal", "action": "warn"},
        {"rule": "PX-1", "status": "fail", "code": "stale_reference_price", "action": "reject"},
    ]
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            pretrade_observe(decision="rejected", checks=checks, seconds=0.0002)
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    per = statistics.median(samples)
    print(f"metric updates per decision (20 results, 2 not passing): {per:.1f} µs")
    print(f"  share of the engine's {ENGINE_BUDGET_US:.0f} µs budget: {per / ENGINE_BUDGET_US:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--instruments", type=int, default=50)
    parser.add_argument("--days", type=int, default=260)
    args = parser.parse_args()
    connection, name = django_on_test_database()
    try:
        bench_metric_updates()
        bench_monitor_run(args.accounts, args.instruments, args.days)
    finally:
        drop_test_database(connection, name)
    return 0


def bench_monitor_run(accounts: int, instruments: int, days: int) -> None:
    import numpy as np
    from django.utils import timezone

    from apps.core.context import acting_as_system
    from apps.monitoring.services import monitor_run
    from apps.rules.checks.portfolio import SPECS
    from apps.rules.models import ComplianceRule
    from apps.trading.models import (
        Account,
        BeneficialOwner,
        DailyPrice,
        Fill,
        Instrument,
        Order,
        Position,
        ReferencePrice,
    )

    rng = np.random.default_rng(42)
    now = timezone.now()
    started = time.perf_counter()
    items = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"BX{i:04d}",
            isin=f"XS{i:09d}0",
            mic="XNYS",
            calendar="24/7",
            name=f"Bench {i}",
            asset_class="equity",
            sector=f"Sector {i % 11}",
            currency="USD",
        )
        for i in range(instruments)
    )
    prices = rng.uniform(10, 500, instruments)
    ReferencePrice.objects.bulk_create(
        ReferencePrice(instrument=item, price=Decimal(f"{p:.4f}"), as_of=now)
        for item, p in zip(items, prices, strict=True)
    )
    walk = prices * np.exp(np.cumsum(rng.normal(0, 0.02, (days, instruments)), axis=0))
    first = now.date() - timedelta(days=days)
    DailyPrice.objects.bulk_create(
        (
            DailyPrice(
                instrument=items[i],
                date=first + timedelta(days=d),
                open=Decimal(f"{walk[d, i]:.4f}"),
                high=Decimal(f"{walk[d, i]:.4f}"),
                low=Decimal(f"{walk[d, i]:.4f}"),
                close=Decimal(f"{walk[d, i]:.4f}"),
            )
            for d in range(days)
            for i in range(instruments)
        ),
        batch_size=2000,
    )
    owners = BeneficialOwner.objects.bulk_create(
        BeneficialOwner(name=f"Owner {a}", name_key=f"owner {a}") for a in range(accounts)
    )
    books = Account.objects.bulk_create(
        Account(code=f"BENCH-{a:04d}", name=f"Bench {a}", beneficial_owner=owners[a])
        for a in range(accounts)
    )
    held = rng.random((accounts, instruments)) < 0.3
    Position.objects.bulk_create(
        (
            Position(
                account=books[a],
                instrument=items[i],
                quantity=Decimal(int(rng.integers(-200, 1000)) or 1),
            )
            for a in range(accounts)
            for i in range(instruments)
            if held[a, i]
        ),
        batch_size=2000,
    )
    orders = Order.objects.bulk_create(
        Order(
            account=books[k % accounts],
            instrument=items[k % instruments],
            client_order_id=f"bench-{k}",
            side="buy" if k % 2 else "sell",
            order_type="market",
            quantity=Decimal(10),
            status="filled",
            filled_quantity=Decimal(10),
            reference_price=Decimal(f"{prices[k % instruments]:.4f}"),
        )
        for k in range(2000)
    )
    Fill.objects.bulk_create(
        Fill(
            order=order,
            exec_id=f"bench-x-{order.pk}",
            quantity=Decimal(10),
            price=order.reference_price * Decimal("1.001"),
            venue="XNYS",
            executed_at=now - timedelta(minutes=30),
            liquidity="removed",
        )
        for order in orders
    )
    for n, (rule_type, spec) in enumerate(SPECS.items()):
        ComplianceRule.objects.create(
            code=f"BENCH-PF-{n}",
            name=rule_type,
            rule_type=rule_type,
            parameters=spec.validate({}),
            status="active",
        )
    positions = int(held.sum())
    print(
        f"synthetic firm: {accounts} accounts, {instruments} instruments, {positions} positions, "
        f"{days} days of closes, 2000 fills (built in {time.perf_counter() - started:.1f} s)"
    )
    timings = []
    with acting_as_system("bench:monitoring"):
        for k in range(5):
            run_started = time.perf_counter()
            run = monitor_run(now=now + timedelta(minutes=k))
            timings.append(time.perf_counter() - run_started)
            assert run is not None and run.status == "ok", run and run.error
    first_run, steady = timings[0], statistics.median(timings[1:])
    print(
        f"monitor run, every portfolio rule over {run.books} books: first {first_run:.3f} s "
        f"({run.active_violations} violations active), then median {steady:.3f} s"
    )
    print(f"  share of the {INTERVAL_S:.0f} s interval: {steady / INTERVAL_S:.4f}")


if __name__ == "__main__":
    sys.exit(main())
