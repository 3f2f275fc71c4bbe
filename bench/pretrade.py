"""Pre-trade gate benchmarks, served for real: gunicorn, the demo rule set, a concurrent client.

1. Throughput with 16 concurrent keep-alive connections: an authenticated no-op DRF POST that
   parses the same body (the bench-only view, BENCH_NOOP_VIEW) versus POST /api/v1/orders/
   through the gate; both and their ratio (target: at least 0.6).
2. One connection alone: p50 and p99 latency of POST /api/v1/orders/ (targets 5 ms and 15 ms).
3. A basket of 500 orders, POST /api/v1/orders/basket/ (target at least 3,000 orders/s); the
   phase is skipped, with a note, where the endpoint does not exist (a 404).
4. Audit appends per second with 1 and 8 writers (bench/audit.py's `bench_append`).
5. In process: the engine's time per order without the database writes (target median 150 µs);
   with --profile, a cProfile of orders submitted through the whole Django stack in process,
   summarised by where the time goes (database round trips, the audit event, rules, DRF).

Every phase prints its decision mix (accepted, rejected, pending_approval), so that a phase of
rejections is never taken for the accepted path.

Runs on its own throwaway database: a SQLite file in a temporary VAR_DIR, or, when DATABASE_URL
is set, a database `compliance_bench` created (and dropped afterwards) on that PostgreSQL server.
The client runs in several processes (so that its own GIL does not limit it) on the same machine
as the server: on a small machine it takes some of the CPU the server could have used.

Orders are small crypto limit orders near the reference price (24/7 calendar: any hour), spread
over the (account, instrument) pairs that a dry run accepts, so the load measures real, mostly
accepted decisions; the mix is printed. Order-rate throttles and message limits (120 orders a
minute, 20 messages a second per account in the demo) would reject nearly every order of a load
test, so the bench raises them in its own database (the rules still run); and it quotes both
sides of each name from one account, which the self-trade rule would reject, so that rule runs
in shadow there (evaluated and recorded, never blocking). --keep-throttles leaves them all.

Usage: python bench/pretrade.py [--seconds 10] [--workers 4] [--threads 4] [--latency-orders 1000]
       [--baskets 5] [--appends 2000] [--profile 500]
"""

import argparse
import base64
import dataclasses
import json
import multiprocessing as mp
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Its own name per checkout (BENCH_DB_NAME), so that two benches on one server do not collide.
BENCH_DB = os.environ.get("BENCH_DB_NAME", "compliance_bench")
CONNECTIONS = 16
PASSWORD = "demo-pass-2026"  # seed_demo's default
MIN_RULES = 15
RELAXED_RATE = 1_000_000  # orders (messages) per minute or second: any load test trips them
ORDERS = "/api/v1/orders/"
NOOP = "/api/v1/bench/noop/"
BASKET = "/api/v1/orders/basket/"
BASKET_SIZE = 500


# --- the server's environment and database ----------------------------------------------------


def server_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)  # nothing shared: the embedded broker under the temporary VAR_DIR
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        AUDIT_SIGNING_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        # required with DEBUG off: a made-up LEI with valid check digits
        REPORTING_FIRM_LEI="TEST00FIRMCI00000015",
        BENCH_NOOP_VIEW="true",
        VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        # whitenoise's "No directory at .../staticfiles/" when collectstatic never ran: no matter
        PYTHONWARNINGS="ignore:No directory at",
    )
    return env


def _pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    return psycopg.connect(admin, autocommit=True)


def pg_create(source_url: str) -> str:
    """A fresh `compliance_bench` on the server of DATABASE_URL; returns its URL."""
    with _pg_admin(source_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return urlunsplit(urlsplit(source_url)._replace(path=f"/{BENCH_DB}"))


def pg_drop(source_url: str) -> None:
    with _pg_admin(source_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


# --- demo data --------------------------------------------------------------------------------


def seed(relax_throttles: bool) -> None:
    from django.core.management import call_command

    from apps.rules.models import ComplianceRule, RuleStatus

    call_command("migrate", verbosity=0, interactive=False)
    # The server runs with DEBUG off, where seed_demo takes no default password.
    call_command(
        "seed_demo",
        no_history=True,
        password=PASSWORD,
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    active = ComplianceRule.objects.filter(status=RuleStatus.ACTIVE)
    if active.count() < MIN_RULES:
        fallback_rules()
        print(
            f"(seed_demo made fewer than {MIN_RULES} active rules: the bench's fallback rule set"
            " was added)"
        )
    if relax_throttles:
        relax_order_rate()
        relax_order_flow()


def fallback_rules() -> None:
    """A rule of every type, as a firm would run them (used only while seed_demo has no rules)."""
    from django.db import transaction

    from apps.rules.gate import ruleset_bump
    from apps.rules.models import ComplianceRule, RuleStatus

    specs = [
        ("RL-1", "restricted_list", {}, "reject", "FINRA 5280"),
        ("MA-1", "market_access", {"default": "allow"}, "reject", "SEC 15c3-5(c)(2)(iii)"),
        ("TH-1", "trading_hours", {}, "reject", "SEC 15c3-5(c)(2)"),
        (
            "PX-COLLAR-1",
            "price_collar",
            {"max_deviation_pct": "5"},
            "reject",
            "SEC 15c3-5(c)(1)(ii)",
        ),
        (
            "PX-REASON-1",
            "price_reasonability",
            {"min_price": "0.0001", "max_price": "1000000"},
            "reject",
            "SEC 15c3-5(c)(1)(ii)",
        ),
        (
            "QTY-REASON-1",
            "quantity_reasonability",
            {"max_quantity": "1000000"},
            "reject",
            "SEC 15c3-5(c)(1)(ii)",
        ),
        ("SIZE-1", "order_size", {"max_quantity": "500000"}, "reject", "MiFID II RTS 6 art. 15"),
        (
            "NOTIONAL-1",
            "max_notional",
            {"max_notional": "5000000"},
            "reject",
            "SEC 15c3-5(c)(1)(ii)",
        ),
        ("POS-1", "position_limit", {"max_value": "20000000"}, "reject", "SEC 15c3-5(c)(1)(i)"),
        (
            "GROSS-1",
            "gross_notional",
            {"max_gross_notional": "100000000"},
            "reject",
            "SEC 15c3-5(c)(1)(i)",
        ),
        (
            "CONC-1",
            "concentration",
            {"max_pct": "25", "min_portfolio_value": "1000000"},
            "warn",
            "FINRA 4210",
        ),
        (
            "SECT-1",
            "sector_concentration",
            {"max_pct": "40", "min_portfolio_value": "1000000"},
            "warn",
            "FINRA 4210",
        ),
        (
            "DVOL-1",
            "daily_volume",
            {"max_notional": "50000000"},
            "reject",
            "MiFID II RTS 6 art. 17",
        ),
        ("RATE-1", "order_rate", {"max_per_minute": 120}, "reject", "MiFID II RTS 6 art. 17"),
        ("CXL-1", "cancel_ratio", {}, "warn", "MAR art. 12"),
        ("DUP-1", "duplicate_order", {"window_seconds": 5}, "reject", "SEC 15c3-5(c)(1)(ii)"),
        ("MSG-1", "message_rate", {"max_per_second": 20}, "reject", "MiFID II RTS 6 art. 15"),
        ("SELF-1", "self_trade", {}, "reject", "FINRA 5210.02"),
        ("CREDIT-1", "credit_limit", {}, "reject", "SEC 15c3-5(c)(1)(i)"),
        ("APPROVE-1", "approval_threshold", {"notional": "250000"}, "hold", "FINRA 3110"),
        ("PROV-1", "decision_provenance", {}, "reject", "MiFID II RTS 6 art. 2"),
    ]
    with transaction.atomic():
        for code, rule_type, params, action, regulation in specs:
            ComplianceRule.objects.get_or_create(
                code=code,
                defaults={
                    "name": code,
                    "rule_type": rule_type,
                    "parameters": params,
                    "action": action,
                    "regulation": regulation,
                    "status": RuleStatus.ACTIVE,
                },
            )
        ruleset_bump()


def relax_order_rate() -> None:
    """16 connections send hundreds of orders a second: any per-account order-rate throttle
    would reject nearly all of them, and the bench would measure rejections. In the bench's own
    database only, raise those limits (the rules still run)."""
    from django.db import transaction

    from apps.rules.gate import ruleset_bump
    from apps.rules.models import ComplianceRule, RuleStatus

    with transaction.atomic():
        rules = ComplianceRule.objects.filter(
            rule_type="order_rate", status__in=[RuleStatus.ACTIVE, RuleStatus.TESTING]
        )
        for rule in rules:
            rule.parameters = {**rule.parameters, "max_per_minute": RELAXED_RATE}
            rule.save(update_fields=["parameters"])
        if rules:
            ruleset_bump()
            print(
                f"(order-rate rules {', '.join(r.code for r in rules)} raised to {RELAXED_RATE}/min"
                " in the bench database; --keep-throttles leaves them)"
            )


def relax_order_flow() -> None:
    """As `relax_order_rate`, for message limits; and the self-trade rule in shadow, since the
    bench quotes both sides of a name from one account (its read and check still run)."""
    from django.db import transaction

    from apps.rules.gate import ruleset_bump
    from apps.rules.models import ComplianceRule, RuleStatus

    live = [RuleStatus.ACTIVE, RuleStatus.TESTING]
    with transaction.atomic():
        limits = list(ComplianceRule.objects.filter(rule_type="message_rate", status__in=live))
        for rule in limits:
            raised = {k: RELAXED_RATE for k in rule.parameters if k.startswith("max_per_")}
            rule.parameters = {**rule.parameters, **raised}
            rule.save(update_fields=["parameters"])
        shadow = ComplianceRule.objects.filter(rule_type="self_trade", status=RuleStatus.ACTIVE)
        codes = list(shadow.values_list("code", flat=True))
        shadow.update(status=RuleStatus.TESTING)
        if limits or codes:
            ruleset_bump()
            print(
                f"(message limits {', '.join(r.code for r in limits) or 'none'} raised to"
                f" {RELAXED_RATE}, self-trade rules {', '.join(codes) or 'none'} in shadow, in the"
                " bench database; --keep-throttles leaves them)"
            )


def refresh_prices(symbols) -> None:
    """A fresh reference price (same value) so that no collar finds it stale mid-run."""
    from apps.core.time import utcnow
    from apps.trading.models import Instrument
    from apps.trading.services import reference_price_record

    for inst in Instrument.objects.filter(symbol__in=symbols):
        latest = inst.reference_prices.order_by("-as_of", "-id").first()
        if latest is not None:
            reference_price_record(
                instrument=inst, price=latest.price, as_of=utcnow(), source="bench"
            )


def crypto_instruments() -> list[dict]:
    from apps.trading.models import Instrument

    out = []
    for inst in Instrument.objects.filter(asset_class="crypto", is_active=True).order_by("symbol"):
        latest = inst.reference_prices.order_by("-as_of", "-id").first()
        if latest is None:
            continue
        out.append(
            {
                "symbol": inst.symbol,
                "lot": inst.lot_size,
                "tick": inst.tick_size,
                "price": latest.price,
            }
        )
    return out


def account_codes(username: str = "trader") -> list[str]:
    """The active accounts the bench's trader is entitled to trade."""
    from django.contrib.auth import get_user_model

    from apps.trading.models import Account

    trader = get_user_model().objects.get(username=username)
    entitled = Account.objects.restrict(trader, "trade").filter(is_active=True)
    return list(entitled.order_by("code").values_list("code", flat=True))


# --- orders -----------------------------------------------------------------------------------

METADATA = (
    '{"strategy":"bench-mm-1","signal_id":"sig-%d","risk_check_id":"rc-%d",'
    '"risk_score":"0.21","decision_source":"algo","decision":"enter_long"}'
)


class OrderMaker:
    """Order bodies spread over the (account, instrument) pairs that the gate accepts: small
    notionals, limits a few ticks around the reference, and never the same (quantity, price)
    twice within a run, so duplicate-order rules see distinct orders."""

    LOTS, TICKS = 397, 401  # n -> (quantity, price) is one-to-one for n below lots * TICKS

    def __init__(self, combos: list[tuple[str, dict]], max_notional: Decimal):
        self.combos = []
        for account, inst in combos:
            lot, tick, price = inst["lot"], inst["tick"], inst["price"]
            # the largest whole number of lots that keeps the notional at or below max_notional
            lots = max(1, min(self.LOTS, int(max_notional / (lot * price))))
            self.combos.append((account, inst["symbol"], lot, tick, price, lots))

    def body(self, tag: str, n: int, stream: int) -> bytes:
        account, symbol, lot, tick, price, lots = self.combos[stream % len(self.combos)]
        qty = lot * (1 + n % lots)
        px = price + tick * ((n // lots) % self.TICKS - self.TICKS // 2)
        side = "buy" if n % 2 else "sell"
        return (
            f'{{"client_order_id":"{tag}-{n}","account":"{account}","instrument":"{symbol}",'
            f'"side":"{side}","order_type":"limit","quantity":"{qty}","limit_price":"{px}",'
            f'"time_in_force":"day","metadata":{METADATA % (n, n)}}}'
        ).encode()


# --- a lean HTTP/1.1 keep-alive client --------------------------------------------------------


class Conn:
    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\n"
        if token:
            self.head += f"Authorization: Token {token}\r\n"
        self.sock: socket.socket | None = None
        self.buf = b""

    def _open(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n{self.head}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = (head + "\r\n").encode() + (body or b"")
        for attempt in (0, 1):
            if self.sock is None:
                self._open()
            try:
                self.sock.sendall(data)
                return self._response()
            except (ConnectionError, EOFError):
                self.close()  # the server closed an idle keep-alive connection: once more
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def _response(self) -> tuple[int, bytes]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._recv()
        headers = self.buf[:end].lower()
        status = int(headers[9:12])
        at = headers.find(b"\r\ncontent-length:")
        length = int(headers[at + 17 : headers.find(b"\r\n", at + 2)]) if at >= 0 else 0
        while len(self.buf) < end + 4 + length:
            self._recv()
        body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        if b"\r\nconnection: close" in headers:
            self.close()
        return status, body


def decision(body: bytes) -> str:
    """The order's status: the first "status" key of the compact answer is the top-level one."""
    at = body.find(b'"status":"')
    return body[at + 10 : body.find(b'"', at + 10)].decode() if at >= 0 else "?"


# --- the concurrent load ----------------------------------------------------------------------


def _client_process(port, token, path, maker, tag, first, threads, start, measure, end, queue):
    results = []
    lock = threading.Lock()

    def run(stream: int) -> None:
        conn = Conn(port, token)
        done, statuses, decisions, sample = 0, Counter(), Counter(), None
        n = stream
        try:
            while time.monotonic() < start:
                time.sleep(0.001)
            while True:
                status, body = conn.request("POST", path, maker.body(tag, n, stream))
                n += CONNECTIONS
                now = time.monotonic()
                if now >= end:
                    break
                if now < measure:
                    continue
                done += 1
                statuses[status] += 1
                if path == ORDERS and status in (200, 201):
                    decisions[decision(body)] += 1
                elif status not in (200, 201) and sample is None:
                    sample = body[:300]
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            sample = repr(exc).encode()
            statuses["error"] += 1
        finally:
            conn.close()
        with lock:
            results.append((done, statuses, decisions, sample))

    pool = [threading.Thread(target=run, args=(first + i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put(results)


def load(port, token, path, maker, tag, *, seconds, warmup, procs) -> dict:
    """CONNECTIONS keep-alive connections (procs processes x threads) for warmup + seconds."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    threads = CONNECTIONS // procs
    start = time.monotonic() + 0.5
    measure, end = start + warmup, start + warmup + seconds
    workers = [
        ctx.Process(
            target=_client_process,
            args=(port, token, path, maker, tag, p * threads, threads, start, measure, end, queue),
        )
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    done, statuses, decisions, samples = 0, Counter(), Counter(), []
    for _ in workers:
        for d, s, dec, sample in queue.get(timeout=seconds + warmup + 120):
            done += d
            statuses.update(s)
            decisions.update(dec)
            if sample:
                samples.append(sample)
    for w in workers:
        w.join()
    return {
        "rate": done / seconds,
        "done": done,
        "statuses": statuses,
        "decisions": decisions,
        "samples": samples,
    }


def latency(port, token, maker, *, orders, warmup) -> dict:
    conn = Conn(port, token)
    times, decisions, statuses = [], Counter(), Counter()
    try:
        for n in range(warmup + orders):
            body = maker.body("lat", n, n)
            t0 = time.perf_counter()
            status, answer = conn.request("POST", ORDERS, body)
            elapsed = time.perf_counter() - t0
            if n < warmup:
                continue
            times.append(elapsed)
            statuses[status] += 1
            if status in (200, 201):
                decisions[decision(answer)] += 1
    finally:
        conn.close()
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "max": times[-1],
        "decisions": decisions,
        "statuses": statuses,
    }


def basket(port, token, maker, *, baskets: int) -> dict | None:
    """`baskets` baskets of BASKET_SIZE orders one after the other on one connection: orders
    per second over the whole, and the decision of every order. None when the endpoint is not
    there (404)."""
    conn = Conn(port, token)
    elapsed, decisions, statuses, sample = 0.0, Counter(), Counter(), None
    try:
        for b in range(baskets + 1):  # the first warms up
            # Other quantities and prices in every basket: the duplicate-order rule (5 s) would
            # otherwise reject a basket that repeats the one before.
            orders = b",".join(
                maker.body(f"basket{b}", b * BASKET_SIZE + n, n) for n in range(BASKET_SIZE)
            )
            body = b'{"orders":[' + orders + b"]}"
            t0 = time.perf_counter()
            status, answer = conn.request("POST", BASKET, body)
            took = time.perf_counter() - t0
            if status == 404 or (status == 403 and not answer.startswith(b"{")):
                # No such route: a 404, or before that the CSRF refusal (an HTML page) that
                # Django's catch-all under /api/ gives a POST it has no API view for.
                return None
            if b == 0:
                continue
            elapsed += took
            statuses[status] += 1
            if status in (200, 201):
                for item in json.loads(answer).get("orders", []):
                    decisions[item.get("status", "?")] += 1
            elif sample is None:
                sample = answer[:300]
    finally:
        conn.close()
    return {
        "rate": baskets * BASKET_SIZE / elapsed if elapsed else float("nan"),
        "per_basket": elapsed / baskets,
        "decisions": decisions,
        "statuses": statuses,
        "sample": sample,
    }


def audit_appends(appends: int) -> tuple[float, float]:
    """Events appended per second by 1 and by 8 writers (bench/audit.py), on this database."""
    import importlib.util

    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_audit", ROOT / "bench" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bench_append(appends, 1), module.bench_append(appends, 8)


def profile_orders(maker: OrderMaker, token: str, orders: int) -> None:
    """Orders through the whole Django stack in this process (middleware, DRF, the gate), under
    cProfile: where one order's time goes."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", SERVER_NAME="127.0.0.1")

    def send(n: int) -> str:
        answer = client.post(
            ORDERS, maker.body("prof", n, n), content_type="application/json"
        ).content
        return decision(answer)

    for n in range(50):  # warm: the rule set compiled, the connection open
        send(n)
    decisions = Counter()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for n in range(50, 50 + orders):
        decisions[send(n)] += 1
    profiler.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profiler)
    total = stats.total_tt or 1

    def cumulative(*needles: str) -> float:
        """The largest cumulative time of a function matching every needle (file, name)."""
        best = 0.0
        for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
            where = f"{filename}:{name}"
            if all(n in where for n in needles):
                best = max(best, ct)
        return best

    parts = [
        ("the whole request (Django handler)", "django/core/handlers/base.py", "_get_response"),
        ("  token authentication", "apps/rbac/authentication.py", "authenticate"),
        ("  order input (account, instrument, terms)", "apps/rules/apis.py", "order_request"),
        ("  gate.order_submit", "apps/rules/gate.py", "order_submit"),
        ("    evaluate_request (context and rules)", "apps/rules/gate.py", "evaluate_request"),
        ("      engine.evaluate (the rules alone)", "apps/rules/engine.py", "evaluate"),
        ("    order_record (the order and its books)", "apps/trading/services.py", "order_record"),
        ("      audit_record (the audit event)", "apps/audit/services.py", "audit_record"),
        (
            "statements sent (cursor execute, driver wait)",
            "django/db/backends/utils.py",
            "_execute",
        ),
        ("commit (driver wait)", "django/db/backends/base/base.py", "commit"),
    ]
    per = 1e3 / orders
    print(
        f"profile, {orders} orders in process (cProfile slows Python ~2x; shares only):"
        f" {wall * per:.2f} ms an order; decisions: {_mix(decisions)}"
    )
    for label, where, name in parts:
        seconds = cumulative(where, name)
        print(f"  {label:<52} {seconds * per:7.3f} ms  {100 * seconds / total:5.1f}%")
    print("  top functions by own time:")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (filename, line, name), (_cc, nc, tt, _ct, _callers) in rows:
        short = filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        share = f"{tt * per:7.3f} ms {100 * tt / total:5.1f}%  {nc // orders:>4}x"
        print(f"    {share}  {short}:{line}({name})")


# --- the engine in process --------------------------------------------------------------------


def _median_us(fn, iterations: int) -> tuple[float, float]:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    clock = time.perf_counter
    for _ in range(iterations):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    samples.sort()
    return statistics.median(samples) * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def bench_engine(maker: OrderMaker, iterations: int) -> None:
    from django.contrib.auth import get_user_model

    from apps.rules import engine, gate
    from apps.trading.models import Account, Instrument

    account_code, symbol, lot, tick, price, _lots = maker.combos[0]
    account = Account.objects.get(code=account_code)
    instrument = Instrument.objects.select_related("underlying").get(symbol=symbol)
    user = get_user_model().objects.get(username="trader")
    body = json.loads(maker.body("engine", 1, 0))
    req = gate.OrderRequest(
        account=account,
        instrument=instrument,
        client_order_id=body["client_order_id"],
        side=body["side"],
        order_type="limit",
        quantity=Decimal(body["quantity"]),
        limit_price=Decimal(body["limit_price"]),
        time_in_force="day",
        metadata=body["metadata"],
        body=body,
    )
    ruleset = gate.ruleset_current()
    intent = gate.order_intent(req, user)  # exactly what the gate evaluates
    ctx = gate.build_context(intent, account=account, user=user, types=ruleset.types)
    status, checks = engine.evaluate(ruleset, ctx)

    # The context's lazy lookups (duplicate order: one query) answered once, then from memory:
    # what remains is the engine alone, with no database at all.
    lazy_dup, memo = ctx.duplicate_within, {}

    def duplicate_within(seconds: int) -> bool:
        if seconds not in memo:
            memo[seconds] = lazy_dup(seconds)
        return memo[seconds]

    pure = dataclasses.replace(ctx, duplicate_within=duplicate_within)
    engine_us, engine_p99 = _median_us(lambda: engine.evaluate(ruleset, pure), iterations)
    lazy_us, _ = _median_us(lambda: engine.evaluate(ruleset, ctx), max(500, iterations // 10))
    ctx_us, _ = _median_us(
        lambda: gate.build_context(intent, account=account, user=user, types=ruleset.types),
        max(300, iterations // 20),
    )
    active = sum(1 for r in ruleset.rules if not r.shadow)
    shadow = len(ruleset.rules) - active
    applied = len(checks)
    mix = Counter(c["status"] for c in checks)
    print(
        f"engine in process ({symbol} {body['side']} {body['quantity']} @ {body['limit_price']}"
        f" for {account_code}): {active} active rules"
        + (f" + {shadow} in shadow testing" if shadow else "")
        + f", {applied} applied to this order ({', '.join(f'{v} {k}' for k, v in mix.items())});"
        f" decision {status}"
    )
    print(
        f"  engine.evaluate, no database       median {engine_us:7.1f} µs  p99 {engine_p99:7.1f} µs"
        f"   (target median 150 µs: ratio {150 / engine_us:.2f})"
    )
    print(f"  engine.evaluate + its lazy reads   median {lazy_us:7.1f} µs")
    print(f"  gate.build_context (the reads)     median {ctx_us:7.1f} µs")


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(env, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "gunicorn"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "gunicorn"
    cmd = [
        str(exe),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "5",
        "--no-control-socket",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited ({proc.returncode}); see {log}:\n{log.read_text()}"
            )
        try:
            conn = Conn(port)
            status, _ = conn.request("GET", "/healthz")
            conn.close()
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    gunicorn_stop(proc)
    raise RuntimeError("gunicorn did not become ready within 60 s")


def gunicorn_stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what we started
        proc.wait()


def token_for(port: int, username: str) -> str:
    conn = Conn(port)
    body = json.dumps({"username": username, "password": PASSWORD, "name": "bench"}).encode()
    status, answer = conn.request("POST", "/api/v1/auth/token/", body)
    conn.close()
    if status != 201:
        raise RuntimeError(f"no token for {username}: {status} {answer[:300]!r}")
    return json.loads(answer)["token"]


def accepted_combos(port, token, accounts, instruments, max_notional) -> list[tuple[str, dict]]:
    """(account, instrument) pairs whose small orders the gate accepts (dry run)."""
    conn = Conn(port, token)
    good, seen = [], Counter()
    try:
        for account in accounts:
            for inst in instruments:
                body = OrderMaker([(account, inst)], max_notional).body("probe", 7, 0)
                status, answer = conn.request("POST", "/api/v1/pretrade/check/", body)
                verdict = decision(answer) if status in (200, 201) else f"HTTP {status}"
                seen[verdict] += 1
                if verdict == "accepted":
                    good.append((account, inst))
    finally:
        conn.close()
    print(
        f"probe (dry run, {len(accounts)} accounts x {len(instruments)} crypto instruments): "
        + ", ".join(f"{v} {k}" for k, v in seen.most_common())
    )
    return good


# --- main -------------------------------------------------------------------------------------


def _mix(counter: Counter) -> str:
    total = sum(counter.values()) or 1
    return ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in counter.most_common())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds first")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes (of 16)")
    parser.add_argument("--latency-orders", type=int, default=1000)
    parser.add_argument("--engine-iterations", type=int, default=20000)
    parser.add_argument("--baskets", type=int, default=5, help=f"baskets of {BASKET_SIZE} orders")
    parser.add_argument("--appends", type=int, default=2000, help="audit appends per writer count")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile N orders in process"
    )
    parser.add_argument(
        "--max-notional", type=Decimal, default=Decimal("1000"), help="per order, in its currency"
    )
    parser.add_argument(
        "--keep-throttles", action="store_true", help="do not raise order-rate rule limits"
    )
    args, _ = parser.parse_known_args()  # bench/run.py passes every benchmark the same flags
    if CONNECTIONS % args.client_procs:
        parser.error(f"--client-procs must divide {CONNECTIONS}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still clean up in `finally`
    source_url = os.environ.get("DATABASE_URL") or None
    var_dir = Path(tempfile.mkdtemp(prefix="bench-pretrade-"))
    server, db_url, django_ready = None, None, False
    try:
        db_url = pg_create(source_url) if source_url else None
        env = server_env(var_dir, db_url)
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        django_ready = True
        from django.db import connection, connections

        t0 = time.perf_counter()
        seed(relax_throttles=not args.keep_throttles)
        instruments = crypto_instruments()
        accounts = account_codes()
        print(
            f"database: {connection.vendor} ({BENCH_DB if db_url else var_dir / 'db.sqlite3'});"
            f" migrated and seeded in {time.perf_counter() - t0:.0f} s;"
            f" {os.cpu_count()} CPUs; gunicorn {args.workers} workers x {args.threads} threads"
        )
        refresh_prices([i["symbol"] for i in instruments])
        connections.close_all()

        port = free_port()
        server = gunicorn_start(env, port, args.workers, args.threads, var_dir / "gunicorn.log")
        token = token_for(port, "trader")
        combos = accepted_combos(port, token, accounts, instruments, args.max_notional)
        if not combos:
            print("(no pair was accepted on the dry run: loading every pair; expect rejections)")
            combos = [(a, i) for a in accounts for i in instruments]
        maker = OrderMaker(combos, args.max_notional)
        print(
            f"load: {CONNECTIONS} keep-alive connections ({args.client_procs} client processes x"
            f" {CONNECTIONS // args.client_procs} threads), {args.warmup:.0f} s warm-up +"
            f" {args.seconds:.0f} s per phase; orders spread over {len(combos)}"
            " (account, instrument) pairs"
        )

        common = {"seconds": args.seconds, "warmup": args.warmup, "procs": args.client_procs}
        noop = load(port, token, NOOP, maker, "noop", **common)
        orders = load(port, token, ORDERS, maker, f"load{os.getpid()}", **common)
        for name, result in (("no-op POST", noop), ("POST /api/v1/orders/", orders)):
            bad = {k: v for k, v in result["statuses"].items() if k not in (200, 201)}
            if bad:
                print(f"  ! {name}: non-2xx answers {bad}; first: {result['samples'][0]!r}")
        ratio = orders["rate"] / noop["rate"] if noop["rate"] else float("nan")
        print(f"  no-op POST (auth + role + JSON parse)  {noop['rate']:8,.0f} requests/s")
        print(f"  POST /api/v1/orders/ (the gate)        {orders['rate']:8,.0f} orders/s")
        print(f"  ratio orders / no-op {ratio:.2f}   (target at least 0.6)")
        print(f"  decisions under load: {_mix(orders['decisions'])}")

        refresh_prices([i["symbol"] for i in instruments])
        lat = latency(port, token, maker, orders=args.latency_orders, warmup=50)
        print(
            f"one connection, {args.latency_orders} sequential orders:"
            f" p50 {lat['p50'] * 1e3:.2f} ms, p99 {lat['p99'] * 1e3:.2f} ms,"
            f" max {lat['max'] * 1e3:.1f} ms   (targets p50 at most 5 ms: ratio"
            f" {5e-3 / lat['p50']:.2f}; p99 at most 15 ms: ratio {15e-3 / lat['p99']:.2f})"
        )
        print(f"  decisions: {_mix(lat['decisions'])}")
        bad = {k: v for k, v in lat["statuses"].items() if k not in (200, 201)}
        if bad:
            print(f"  ! non-2xx answers {bad}")

        refresh_prices([i["symbol"] for i in instruments])
        got = basket(port, token, maker, baskets=args.baskets)
        if got is None:
            print(f"basket of {BASKET_SIZE}: skipped ({BASKET} answers 404: no basket endpoint)")
        else:
            print(
                f"basket of {BASKET_SIZE}, {args.baskets} one after the other:"
                f" {got['rate']:,.0f} orders/s ({got['per_basket'] * 1e3:.0f} ms a basket)"
                f"   (target at least 3,000 orders/s: ratio {got['rate'] / 3000:.2f})"
            )
            print(f"  decisions: {_mix(got['decisions'])}")
            bad = {k: v for k, v in got["statuses"].items() if k not in (200, 201)}
            if bad:
                print(f"  ! non-2xx answers {bad}; first: {got['sample']!r}")

        gunicorn_stop(server)
        server = None
        one, eight = audit_appends(args.appends)
        print(
            f"audit appends ({args.appends} events each): 1 writer {one:,.0f} events/s;"
            f" 8 writers {eight:,.0f} events/s (ratio 8/1 {eight / one:.2f}; target at least 1)"
        )
        if connection.vendor == "sqlite":
            print(
                "  (SQLite: one writer at a time for the whole file: 8 writers queue on its lock;"
                " they gain only the Python work done while another one writes)"
            )
        bench_engine(maker, args.engine_iterations)
        if args.profile:
            refresh_prices([i["symbol"] for i in instruments])
            profile_orders(maker, token, args.profile)
        return 0
    finally:
        gunicorn_stop(server)
        if django_ready:
            from django.db import connections

            from apps.audit.sequencer import drain_stop

            drain_stop(10)  # its connection goes before the database does
            connections.close_all()
        if db_url:
            pg_drop(source_url)
        import shutil

        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
