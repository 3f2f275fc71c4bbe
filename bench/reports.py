"""Report generation over 100,000 fills: time and peak memory for each report and format.
The CAT case (`cat_events`) reads 100,000 orders: the fills' 50,000 and as many unfilled ones,
each with its ORDER_SUBMITTED event in the audit trail.

Targets (2 cores): CSV under 5 s, XML under 15 s, PDF under 20 s (a summary, or listing every
fill), memory under 300 MB.
Each generation is the real service (streamed from the database into a temporary file, hashed,
stored, audited). Memory is the process's resident set: its peak during the generation (sampled
every 5 ms) above what it was before, and the peak itself.

Runs on a throwaway test database: PostgreSQL when DATABASE_URL is set, else SQLite.
Usage: python bench/reports.py [--fills N] [--orders N] [--only REPORT_TYPE]
"""

import argparse
import gc
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import PeakRss, django_on_test_database, drop_test_database

TARGETS = {"csv": 5.0, "json": 5.0, "xml": 15.0, "pdf": 20.0, "pdf-list": 20.0}
MEMORY_TARGET_MB = 300
VENUES = ["XNAS", "XNYS", "BATS", "ARCX", "IEXG", "XETR", "XPAR"]
# The daily trading PDF lists every fill up to REPORTING_PDF_MAX_LISTED_ROWS (50,000 by
# default), else it is a summary: "pdf" here is the summary of the 100,000 fills, "pdf-list"
# the same PDF with every fill listed (the limit raised to the number of fills).
CASES = [
    ("daily_trading", "csv"),
    ("daily_trading", "json"),
    ("daily_trading", "pdf"),
    ("daily_trading", "pdf-list"),
    ("mifir_transactions", "xml"),
    ("mifir_transactions", "csv"),
    ("positions", "csv"),
    ("best_execution", "pdf"),
    ("cat_events", "json"),
]


def load_fills(n: int, day) -> None:
    """n fills on `day`, two per order, over 5 accounts and 40 instruments (bulk inserts)."""
    from apps.trading.models import Account, BeneficialOwner, Fill, Instrument, Order
    from apps.trading.validators import isin_is_valid

    def isin(k: int) -> str:
        body = f"US{k:09d}"
        return next(body + str(c) for c in range(10) if isin_is_valid(body + str(c)))

    owners = BeneficialOwner.objects.bulk_create(
        BeneficialOwner(name=f"Bench owner {a}", name_key=f"bench owner {a}") for a in range(5)
    )
    accounts = Account.objects.bulk_create(
        Account(
            code=f"B-{a}",
            name=f"Bench {a}",
            beneficial_owner=owners[a],
            cat_fdid=f"BENCHFDID{a}",
            cat_account_holder_type="A",
        )
        for a in range(5)
    )
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"BN{i}",
            isin=isin(900000 + i),
            mic="XNAS",
            name=f"Bench {i}",
            asset_class="equity" if i % 4 else "etf",
            sector="Bench",
            currency="USD",
            mifir_reportable=True,
        )
        for i in range(40)
    )
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=14)
    batch = 5000
    for first in range(0, n, batch):
        orders = Order.objects.bulk_create(
            Order(
                account=accounts[k % 5],
                instrument=instruments[k % 40],
                client_order_id=f"bench-{k}",
                side="buy" if k % 3 else "sell",
                order_type="limit",
                quantity=Decimal("200"),
                limit_price=Decimal("150"),
                status="filled",
                filled_quantity=Decimal("200"),
                metadata={"decision_source": "algo", "strategy": "vwap-3"} if k % 2 else {},
            )
            for k in range(first // 2, (first + batch) // 2)
        )
        Fill.objects.bulk_create(
            Fill(
                order=orders[j // 2],
                exec_id=f"BX-{first + j}",
                quantity=Decimal("100"),
                price=Decimal("150") + Decimal(j % 97) / 100,
                venue=VENUES[(first + j) % len(VENUES)],
                executed_at=start + timedelta(milliseconds=(first + j) * 250),
                commission=Decimal("0.35"),
                liquidity="added" if j % 2 else "removed",
            )
            for j in range(min(batch, n - first))
        )


def load_order_events(total: int, day) -> None:
    """Orders up to `total` (the fills' orders and unfilled ones), and each one's
    ORDER_SUBMITTED event in the audit trail, spread over `day` from 14:00 UTC (inside the CAT
    trading day). The events are inserted in bulk: their hashes do not chain (the bench's
    database is thrown away), the chain's head is moved past them so that the reports' own
    events follow."""
    import json

    from apps.audit.models import AuditChainHead, AuditEvent
    from apps.trading.models import Account, Instrument, Order

    accounts = list(Account.objects.filter(code__startswith="B-"))
    instruments = list(Instrument.objects.filter(symbol__startswith="BN"))
    have = Order.objects.count()
    batch = 5000
    for first in range(have, total, batch):
        Order.objects.bulk_create(
            Order(
                account=accounts[k % 5],
                instrument=instruments[k % 40],
                client_order_id=f"bench-open-{k}",
                side="buy" if k % 3 else "sell",
                order_type="limit",
                quantity=Decimal("300"),
                limit_price=Decimal("149"),
                status="accepted",
            )
            for k in range(first, min(first + batch, total))
        )
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=14)
    head = AuditChainHead.objects.get(pk=1)
    seq = head.seq
    rows = Order.objects.order_by("pk").values_list(
        "pk", "account__code", "instrument__symbol", "side", "quantity", "limit_price"
    )
    events = []
    for n, (pk, account, symbol, side, quantity, limit_price) in enumerate(rows.iterator(5000)):
        seq += 1
        when = start + timedelta(milliseconds=n * 200)
        snapshot = {
            "client_order_id": f"bench-{pk}",
            "account": account,
            "instrument": symbol,
            "side": side,
            "order_type": "limit",
            "time_in_force": "day",
            "quantity": str(quantity),
            "limit_price": str(limit_price),
            "status": "accepted",
            "filled_quantity": "0",
        }
        events.append(
            AuditEvent(
                seq=seq,
                occurred_at=when,
                event_type="ORDER_SUBMITTED",
                actor_type="system",
                actor="bench",
                object_type="trading.order",
                object_id=str(pk),
                regulatory=True,
                retention_class="trading",
                record=json.dumps({"payload": {"order": snapshot}}),
                hash="0" * 64,
            )
        )
        if len(events) == batch:
            AuditEvent.objects.bulk_create(events)
            events = []
    AuditEvent.objects.bulk_create(events)
    AuditChainHead.objects.filter(pk=1).update(seq=seq, hash="0" * 64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=100_000, help="for the CAT case")
    parser.add_argument("--only", default="", help="one report type (cat_events, say)")
    args = parser.parse_args()

    connection, name = django_on_test_database()
    try:
        from django.conf import settings

        from apps.core.context import acting_as_system
        from apps.core.time import utcnow
        from apps.reporting.services import report_generate

        settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-reports-")
        # A made-up firm LEI (valid check digits) unless one is configured.
        settings.REPORTING_FIRM_LEI = settings.REPORTING_FIRM_LEI or "TEST00FIRMCI00000015"
        listed = settings.REPORTING_PDF_MAX_LISTED_ROWS
        from apps.core.calendars import previous_business_day

        settings.CAT_REPORTER_IMID = settings.CAT_REPORTER_IMID or "BENCH"
        # A business day (the CAT file covers one CAT trading day).
        day = previous_business_day(settings.CAT_CALENDAR, utcnow().date())
        print(f"database: {connection.vendor}; {args.fills:,} fills on {day}")
        t0 = time.perf_counter()
        load_fills(args.fills, day)
        print(f"loading the fills: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        load_order_events(args.orders, day)
        print(f"loading {args.orders:,} orders' events: {time.perf_counter() - t0:.1f} s")
        print(
            f"{'report':<20}{'format':<8}{'records':>9}{'size MB':>9}{'time s':>8}"
            f"{'target s':>10}{'ratio':>7}{'mem +MB':>9}{'peak MB':>9}{'ratio':>7}"
        )
        worst_time = worst_memory = 0.0
        with acting_as_system("bench"):
            for report_type, fmt in CASES:
                if args.only and report_type != args.only:
                    continue
                gc.collect()
                with PeakRss() as memory:
                    t0 = time.perf_counter()
                    settings.REPORTING_PDF_MAX_LISTED_ROWS = (
                        args.fills if fmt == "pdf-list" else listed
                    )
                    report = report_generate(
                        report_type=report_type,
                        period_start=day,
                        period_end=day,
                        fmt=fmt.removesuffix("-list"),
                        schedule="bench",
                    )
                    elapsed = time.perf_counter() - t0
                target = TARGETS[fmt]
                worst_time = max(worst_time, elapsed / target)
                worst_memory = max(worst_memory, memory.peak / MEMORY_TARGET_MB)
                print(
                    f"{report_type:<20}{fmt:<8}{report.record_count:>9,}"
                    f"{report.size / 1e6:>9.1f}{elapsed:>8.2f}{target:>10.0f}"
                    f"{elapsed / target:>7.2f}{memory.peak - memory.before:>9.0f}"
                    f"{memory.peak:>9.0f}{memory.peak / MEMORY_TARGET_MB:>7.2f}"
                )
        print(
            f"worst time ratio {worst_time:.2f}, worst memory ratio {worst_memory:.2f}"
            f" (under 1 meets the target; memory target {MEMORY_TARGET_MB} MB for the process)"
        )
    finally:
        drop_test_database(connection, name)


if __name__ == "__main__":
    main()
