"""compliance-cli against the live server: readable tables with coloured results, --json for
scripts, exit statuses, and the installed entry point as a real process."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from compliance_client.cli import main

from apps.trading.models import Order as OrderRow
from tests.client.conftest import PASSWORD
from tests.notifications.conftest import free_port

ORDER = ["--account", "ACC-T1", "--instrument", "AAPL", "--side", "buy", "--quantity", "10"]
GREEN, RED, YELLOW = "\x1b[32m", "\x1b[31m", "\x1b[33m"


def cli(desk, *args: str, user: str = "trader") -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--url", desk.url, f"--token={desk.tokens[user]}", *args], stdout=out)
    return code, out.getvalue()


def test_submit_prints_the_rule_results_as_a_table(desk):
    code, out = cli(desk, "submit", *ORDER, "--limit-price", "100", "--client-order-id", "cli-1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Order ") and "cli-1: ACCEPTED" in lines[0]
    header = next(line for line in lines if line.startswith("RULE"))
    assert header.split() == [
        "RULE", "TYPE", "RESULT", "OBSERVED", "THRESHOLD", "CODE", "MESSAGE",
    ]  # fmt: skip
    collar = next(line for line in lines if line.startswith("PX-COLLAR-1"))
    assert collar.split()[:3] == ["PX-COLLAR-1", "price_collar", "PASS"]
    assert "\x1b[" not in out  # not a terminal: no colour


def test_colour_marks_pass_green_and_fail_red(desk):
    code, out = cli(
        desk, "--color", "always", "submit", *ORDER, "--limit-price", "150",
        "--client-order-id", "cli-red",
    )  # fmt: skip
    assert code == 3  # rejected
    assert f"{RED}REJECTED" in out and "Reason: price_outside_collar" in out
    assert f"{RED}FAIL" in out
    code, out = cli(desk, "--color", "always", "check", *ORDER, "--limit-price", "100")
    assert code == 0 and f"{GREEN}PASS" in out and out.startswith("Dry run")


def test_a_held_order_exits_4(desk):
    code, out = cli(desk, "submit", *ORDER[:-1], "100", "--limit-price", "100", "--color=always")
    assert code == 4 and f"{YELLOW}PENDING_APPROVAL" in out and "Approval request" in out


def test_json_output_for_scripts(desk):
    code, out = cli(
        desk, "check", *ORDER, "--limit-price", "150", "--json", "--meta", "signal_id=s9"
    )
    assert code == 3
    answer = json.loads(out)
    assert answer["status"] == "rejected" and answer["id"] is None
    assert answer["reason"] == "price_outside_collar"
    assert {c["rule"]: c["status"] for c in answer["checks"]}["PX-COLLAR-1"] == "fail"
    assert not OrderRow.objects.exists()  # a dry run

    code, out = cli(
        desk, "submit", *ORDER, "--limit-price", "100", "--client-order-id", "j-1", "--json"
    )
    placed = json.loads(out)
    code, out = cli(desk, "status", str(placed["id"]), "--json")
    status = json.loads(out)
    assert code == 0 and status["status"] == "accepted" and status["quantity"] == "10"
    assert status["created_at"].endswith("Z")


def test_status_and_cancel(desk):
    _, out = cli(
        desk, "submit", *ORDER, "--limit-price", "100", "--client-order-id", "c-1", "--json"
    )
    order_id = str(json.loads(out)["id"])
    code, out = cli(desk, "status", order_id)
    assert code == 0 and "c-1: ACCEPTED" in out and "buy 10 AAPL at 100 on ACC-T1" in out
    code, out = cli(desk, "cancel", order_id)
    assert code == 0 and "CANCELED" in out


def test_errors_carry_the_platforms_code(desk, capsys):
    code, _out = cli(desk, "submit", "--account", "NOPE", *ORDER[2:], "--limit-price", "1")
    assert code == 1
    err = capsys.readouterr().err
    assert "HTTP 400 validation_error" in err and "Unknown account." in err
    code, out = cli(desk, "status", "999999", "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "order_not_found"
    code = main(["--url", f"http://127.0.0.1:{free_port()}", "--token", "t", "status", "1"])
    assert code == 1 and "gate_unreachable" in capsys.readouterr().err


def test_kill_switch_commands_and_a_trader_is_refused(desk, capsys):
    args = ["kill-switch", "activate", "--scope", "account", "--target", "ACC-T1"]
    code, _ = cli(desk, *args, "--reason", "Runaway.")
    assert code == 1 and "HTTP 403 permission_denied" in capsys.readouterr().err

    code, out = cli(desk, *args, "--reason", "Runaway.", "--json", user="risk")
    switch = json.loads(out)
    assert code == 0 and switch["is_active"] and switch["state"] == "halted"
    code, out = cli(desk, "kill-switch", "list", "--active", user="viewer")
    assert code == 0 and "ACC-T1" in out and "Runaway." in out
    code, out = cli(desk, "submit", *ORDER, "--limit-price", "100", "--client-order-id", "k-1")
    assert code == 3 and "KILL-SWITCH" in out
    code, _ = cli(desk, "kill-switch", "deactivate", str(switch["id"]), user="risk2")
    assert code == 0


def test_usage_errors_exit_2(desk, capsys, monkeypatch):
    monkeypatch.delenv("COMPLIANCE_URL", raising=False)
    assert main(["--token", "t", "status", "1"]) == 2  # no URL
    code, _ = cli(desk, "submit", *ORDER[:-1], "ten", "--limit-price", "1")
    assert code == 2 and "'ten' is not a decimal number" in capsys.readouterr().err


def test_the_installed_command_runs_as_a_process(desk):
    command = Path(sys.executable).with_name("compliance-cli")
    env = {**os.environ, "COMPLIANCE_URL": desk.url, "COMPLIANCE_TOKEN": desk.tokens["trader"]}
    result = subprocess.run(
        [str(command), "submit", *ORDER, "--limit-price", "100", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "accepted"


def test_login_prints_a_token_that_works(desk, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    out = io.StringIO()
    args = ["--url", desk.url, "login", "--username", "trader", "--password-stdin"]
    assert main(args, stdout=out) == 0
    token = out.getvalue().strip()
    code, printed = cli(SimpleNamespace(url=desk.url, tokens={"me": token}), "positions", user="me")
    assert code == 0 and printed.split()[:2] == ["ACCOUNT", "INSTRUMENT"]
