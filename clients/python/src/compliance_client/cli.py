"""compliance-cli: the gate from a shell.

    export COMPLIANCE_URL=https://compliance.example.com COMPLIANCE_TOKEN=...
    compliance-cli submit --account ACC-001 --instrument AAPL --side buy --quantity 100 \
        --limit-price 189.50
    compliance-cli check ... --json
    compliance-cli basket orders.csv        # or orders.json, or - for standard input

Exit status: 0 done (an order accepted), 3 rejected, 4 held for approval, 1 an error (the
platform's error code and message on stderr), 2 a usage error. For a basket: 3 when any order
was rejected, else 4 when any was held, else 0.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from compliance_client.client import ComplianceClient
from compliance_client.errors import ComplianceError
from compliance_client.models import (
    SIDES,
    TIMES_IN_FORCE,
    Check,
    Decision,
    KillSwitch,
    Order,
    OrderInfo,
    Position,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REJECTED, EXIT_HELD = 0, 1, 2, 3, 4
_EXIT_FOR = {"accepted": EXIT_OK, "rejected": EXIT_REJECTED, "pending_approval": EXIT_HELD}

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}
_STATUS_COLOUR = {
    "pass": "green",
    "accepted": "green",
    "approved": "green",
    "fail": "red",
    "rejected": "red",
    "denied": "red",
    "warn": "yellow",
    "pending_approval": "yellow",
    "skipped": "dim",
}


def jsonable(value: Any) -> Any:
    """Typed results back to JSON: Decimals as strings, times as RFC 3339."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


class Printer:
    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour

    def paint(self, text: str, colour: str | None) -> str:
        if not self.colour or colour is None:
            return text
        return f"\033[{_COLOURS[colour]}m{text}\033[0m"

    def status(self, status: str) -> str:
        return self.paint(status.upper(), _STATUS_COLOUR.get(status))

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def table(self, headers: Sequence[str], rows: list[list[str]], colour_col: int = -1) -> None:
        """Columns padded to their widest cell; the cells of `colour_col` coloured by value."""
        widths = [len(h) for h in headers]
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

        def render(cells: Sequence[str], head: bool = False) -> str:
            parts = []
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
                padded = cell if i == len(cells) - 1 else cell.ljust(width)
                if head:
                    padded = self.paint(padded, "bold")
                elif i == colour_col:
                    padded = self.paint(padded, _STATUS_COLOUR.get(cell.lower()))
                parts.append(padded)
            return "  ".join(parts).rstrip()

        self.line(render(headers, head=True))
        for row in rows:
            self.line(render(row))

    def checks(self, checks: Sequence[Check]) -> None:
        if not checks:
            self.line("(no rules applied)")
            return
        rows = [
            [
                c.rule,
                c.rule_type,
                c.status.upper() + (" (shadow)" if c.shadow else ""),
                c.observed or "",
                c.threshold or "",
                c.code or "",
                c.message,
            ]
            for c in checks
        ]
        headers = ["RULE", "TYPE", "RESULT", "OBSERVED", "THRESHOLD", "CODE", "MESSAGE"]
        self.table(headers, rows, colour_col=2)

    def decision(self, decision: Decision, *, dry_run: bool = False) -> None:
        what = "Dry run" if dry_run else f"Order {decision.id if decision.id else '-'}"
        extra = " (a repeat: the first answer)" if decision.replayed else ""
        self.line(f"{what} {decision.client_order_id or ''}: {self.status(decision.status)}{extra}")
        if decision.reason and not decision.accepted:
            self.line(f"Reason: {decision.reason}")
        if decision.approval is not None:
            expires = decision.approval.expires_at
            self.line(
                f"Approval request {decision.approval.id}, expires "
                f"{expires.isoformat() if expires else '?'}"
            )
        self.line()
        self.checks(decision.checks)

    def basket(self, decisions: Sequence[Decision]) -> None:
        rows = [
            [
                str(index),
                str(d.id) if d.id is not None else "-",
                d.client_order_id or "",
                d.status.upper(),
                "" if d.accepted else (d.reason or ""),
                "repeat" if d.replayed else "",
            ]
            for index, d in enumerate(decisions)
        ]
        self.table(["#", "ORDER", "CLIENT ORDER ID", "STATUS", "REASON", "NOTE"], rows, 3)
        counts: dict[str, int] = {}
        for d in decisions:
            counts[d.status] = counts.get(d.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        self.line()
        self.line(f"{len(decisions)} order{'s' if len(decisions) != 1 else ''}: {summary}")

    def order(self, order: OrderInfo) -> None:
        price = f" at {order.limit_price}" if order.limit_price is not None else " at market"
        self.line(
            f"Order {order.id} {order.client_order_id}: {self.status(order.status)}"
            f"  {order.side} {order.quantity} {order.instrument}{price} on {order.account}"
        )
        self.line(
            f"Filled {order.filled_quantity}"
            + (f" at {order.avg_fill_price}" if order.avg_fill_price is not None else "")
            + f"; submitted by {order.submitted_by or '-'} at "
            + (order.created_at.isoformat() if order.created_at else "-")
        )
        if order.approval is not None:
            self.line(f"Approval request {order.approval.id}: {self.status(order.approval.status)}")
        self.line()
        self.checks(order.checks)

    def kill_switches(self, switches: Sequence[KillSwitch]) -> None:
        rows = [
            [
                str(k.id),
                k.scope,
                k.target or "(firm)",
                k.state,
                "yes" if k.is_active else "no",
                k.activated_by,
                k.activated_at.isoformat() if k.activated_at else "",
                k.reason,
            ]
            for k in switches
        ]
        headers = ["ID", "SCOPE", "TARGET", "STATE", "ACTIVE", "BY", "AT", "REASON"]
        self.table(headers, rows)

    def positions(self, positions: Sequence[Position]) -> None:
        rows = [
            [p.account, p.instrument, str(p.quantity), str(p.average_cost), str(p.realised_pnl)]
            for p in positions
        ]
        self.table(["ACCOUNT", "INSTRUMENT", "QUANTITY", "AVG COST", "REALISED P&L"], rows)


def _order_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", required=True, help="account code")
    parser.add_argument("--instrument", required=True, help="symbol or ISIN")
    parser.add_argument("--side", required=True, choices=SIDES)
    parser.add_argument("--quantity", required=True)
    parser.add_argument("--limit-price", help="a limit order at this price (market without)")
    parser.add_argument("--time-in-force", default="day", choices=TIMES_IN_FORCE)
    parser.add_argument(
        "--expire-at", help="gtd only: when it expires, RFC 3339 with offset (2026-12-11T21:00Z)"
    )
    parser.add_argument("--client-order-id", help="your id for the order (made up if not given)")
    parser.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="order metadata (signal_id, risk_check_id, strategy...); repeatable",
    )


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The connection options, accepted before and after the command."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--url", default=default(None), help="platform address (env COMPLIANCE_URL)"
    )
    parser.add_argument(
        "--token",
        default=default(None),
        help="API token (env COMPLIANCE_TOKEN); write --token=VALUE, a token may start with -",
    )
    parser.add_argument(
        "--timeout", type=float, default=default(5.0), help="seconds per request (5)"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="JSON output for scripts"
    )
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default=default("auto"),
        help="colour the results (auto: on a terminal, unless NO_COLOR is set)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compliance-cli",
        description="Ask the compliance platform's pre-trade gate, from a shell.",
        epilog="Exit status: 0 done or accepted, 3 rejected, 4 held for approval, 1 error.",
    )
    _common(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser("login", parents=[common], help="get an API token (prints it)")
    login.add_argument("--username", required=True)
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    submit = commands.add_parser("submit", parents=[common], help="send an order through the gate")
    _order_args(submit)
    check = commands.add_parser("check", parents=[common], help="dry run: nothing is stored")
    _order_args(check)

    basket = commands.add_parser(
        "basket",
        parents=[common],
        help="send a file of orders as one basket",
        description="Send the orders of a CSV or JSON file as one basket: each decided as if "
        "sent alone after the one before it, all stored or none. CSV: a header row naming "
        f"{', '.join(BASKET_FIELDS)} (only account, instrument, side and quantity are "
        "required), `metadata` as a JSON object and/or `meta.KEY` columns. JSON: a list of "
        'orders as the API takes them, or {"orders": [...]}. Give each order its '
        "client_order_id to make a rerun of the file safe (a repeat answers the first "
        "decisions and stores nothing twice).",
    )
    basket.add_argument("file", help="a .csv or .json file of orders; - for standard input")
    basket.add_argument(
        "--format", choices=["auto", "csv", "json"], default="auto", help="the file's format"
    )

    cancel = commands.add_parser("cancel", parents=[common], help="cancel an order")
    cancel.add_argument("order_id", type=int)
    status = commands.add_parser("status", parents=[common], help="an order and its rule results")
    status.add_argument("order_id", type=int)

    positions = commands.add_parser("positions", parents=[common], help="positions")
    positions.add_argument("--account")
    positions.add_argument("--instrument")

    kill = commands.add_parser("kill-switch", parents=[common], help="list, activate, deactivate")
    actions = kill.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="the switches (active first)")
    listing.add_argument("--active", action="store_true", help="only those in force")
    activate = actions.add_parser("activate", parents=[common], help="halt or reduce-only")
    activate.add_argument("--scope", required=True, choices=["firm", "account", "instrument"])
    activate.add_argument("--target", default="", help="account code or symbol; none for firm")
    activate.add_argument("--state", default="halted", choices=["halted", "reducing"])
    activate.add_argument("--reason", required=True)
    activate.add_argument(
        "--cancel-working", action="store_true", help="also cancel working orders in scope"
    )
    deactivate = actions.add_parser("deactivate", parents=[common], help="let orders through")
    deactivate.add_argument("switch_id", type=int)
    deactivate.add_argument("--comment", default="")
    return parser


def _order(args: argparse.Namespace) -> Order:
    metadata = {}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--meta {item!r}: give KEY=VALUE")
        metadata[key] = value
    options: dict[str, Any] = {}
    if args.client_order_id:
        options["client_order_id"] = args.client_order_id
    return Order(
        args.account,
        args.instrument,
        args.side,
        args.quantity,
        args.limit_price,
        time_in_force=args.time_in_force,
        metadata=metadata,
        expire_at=_expire_at(args.expire_at),
        **options,
    )


BASKET_FIELDS = (
    "client_order_id",
    "account",
    "instrument",
    "side",
    "order_type",
    "quantity",
    "limit_price",
    "time_in_force",
    "expire_at",
    "metadata",
)


def _basket_order(index: int, record: Any) -> Order:
    """One order of a basket file, from its fields as the API names them."""
    where = f"orders[{index}]"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: an order is an object of its fields")
    unknown = sorted(k for k in record if k not in BASKET_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    fields = {k: v for k, v in record.items() if v not in (None, "")}
    missing = [k for k in ("account", "instrument", "side", "quantity") if k not in fields]
    if missing:
        raise ValueError(f"{where}: {', '.join(missing)} required")
    metadata = fields.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: metadata is a JSON object")
    options: dict[str, Any] = {}
    for name in ("client_order_id", "order_type", "time_in_force"):
        if name in fields:
            options[name] = fields[name]
    try:
        return Order(
            fields["account"],
            fields["instrument"],
            fields["side"],
            fields["quantity"],
            fields.get("limit_price"),
            metadata=metadata,
            expire_at=_expire_at(fields.get("expire_at")),
            **options,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _csv_records(text: str) -> list[dict[str, Any]]:
    """CSV rows as order records: `metadata` a JSON object, `meta.KEY` columns into it."""
    records = []
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        if None in row:
            raise ValueError(f"line {line}: more cells than the header names")
        record: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for key, value in row.items():
            key = (key or "").strip()
            value = (value or "").strip()
            if key.startswith("meta."):
                if value:
                    metadata[key[len("meta.") :]] = value
            elif key == "metadata":
                if value:
                    try:
                        metadata.update(json.loads(value))
                    except (ValueError, TypeError, AttributeError):
                        raise ValueError(f"line {line}: metadata is not a JSON object") from None
            else:
                record[key] = value
        if metadata:
            record["metadata"] = metadata
        records.append(record)
    return records


def read_basket(text: str, fmt: str = "auto") -> list[Order]:
    """The orders of a basket file: CSV with a header row, or JSON (a list of orders, or an
    object with `orders`). `fmt` auto: JSON when the text starts with [ or {."""
    if fmt == "auto":
        fmt = "json" if text.lstrip()[:1] in ("[", "{") else "csv"
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"the file is not JSON: {exc}") from None
        records = data.get("orders") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise ValueError("give a list of orders, or an object with `orders`")
    else:
        records = _csv_records(text)
    if not records:
        raise ValueError("the file holds no orders")
    return [_basket_order(i, r) for i, r in enumerate(records)]


def _expire_at(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--expire-at {text!r}: give an RFC 3339 time") from None
    if when.tzinfo is None:
        raise ValueError(f"--expire-at {text!r}: give its UTC offset (Z or +01:00)")
    return when


def _run(args: argparse.Namespace, client: ComplianceClient, show: Printer) -> tuple[Any, int]:
    """Do the command: (the result, the exit status); prints the readable form unless --json."""
    quiet = args.json
    if args.command in ("submit", "check"):
        order = _order(args)
        decision = client.submit(order) if args.command == "submit" else client.check(order)
        if not quiet:
            show.decision(decision, dry_run=args.command == "check")
        return decision, _EXIT_FOR.get(decision.status, EXIT_OK)
    if args.command == "basket":
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8-sig") as handle:
                text = handle.read()
        fmt = args.format
        if fmt == "auto" and args.file.lower().endswith((".csv", ".json")):
            fmt = args.file.lower().rsplit(".", 1)[1]
        decisions = client.submit_basket(read_basket(text, fmt))
        if not quiet:
            show.basket(decisions)
        statuses = {d.status for d in decisions}
        if "rejected" in statuses:
            return decisions, EXIT_REJECTED
        return decisions, EXIT_HELD if "pending_approval" in statuses else EXIT_OK
    if args.command in ("cancel", "status"):
        info = (
            client.cancel(args.order_id)
            if args.command == "cancel"
            else client.order(args.order_id)
        )
        if not quiet:
            show.order(info)
        return info, EXIT_OK
    if args.command == "positions":
        rows = client.positions(account=args.account, instrument=args.instrument)
        if not quiet:
            show.positions(rows)
        return rows, EXIT_OK
    if args.action == "list":
        switches = client.kill_switches(active=True if args.active else None)
    elif args.action == "activate":
        switches = [
            client.kill_switch_activate(
                scope=args.scope,
                target=args.target,
                state=args.state,
                reason=args.reason,
                cancel_working=args.cancel_working,
            )
        ]
    else:
        switches = [client.kill_switch_deactivate(args.switch_id, comment=args.comment)]
    if not quiet:
        show.kill_switches(switches)
    return switches if args.action == "list" else switches[0], EXIT_OK


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, sys.stderr
    args = build_parser().parse_args(argv)
    url = args.url or os.environ.get("COMPLIANCE_URL")
    if not url:
        print("compliance-cli: give --url or set COMPLIANCE_URL", file=err)
        return EXIT_USAGE
    colour = args.color == "always" or (
        args.color == "auto" and not os.environ.get("NO_COLOR") and out.isatty()
    )
    show = Printer(out, colour and not args.json)
    try:
        if args.command == "login":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass(f"Password for {args.username}: ")
            with ComplianceClient.login(url, args.username, password, timeout=args.timeout) as c:
                token = c.token
            print(json.dumps({"token": token}) if args.json else token, file=out)
            return EXIT_OK
        token = args.token or os.environ.get("COMPLIANCE_TOKEN")
        if not token:
            print("compliance-cli: give --token or set COMPLIANCE_TOKEN", file=err)
            return EXIT_USAGE
        with ComplianceClient(url, token, timeout=args.timeout, on_reject=None) as client:
            result, code = _run(args, client, show)
    except ComplianceError as exc:
        if args.json:
            body = {"code": exc.code, "message": exc.message, "details": exc.details}
            print(json.dumps({"error": body}, indent=2), file=out)
        else:
            print(f"compliance-cli: {exc}", file=err)
            if exc.details:
                print(json.dumps(exc.details, indent=2, default=str), file=err)
        return EXIT_ERROR
    except (TypeError, ValueError, OSError) as exc:
        print(f"compliance-cli: {exc}", file=err)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(jsonable(result), indent=2), file=out)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
