"""scripts/verify_audit_export.py, run as an outside auditor would (a separate Python with
nothing of the project importable), agrees with `verify_audit --export` on a good export and on
each tampered one: same verdict, same first bad sequence number."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import call_command

from apps.audit.canonical import canonical_bytes
from tests.audit.test_witness import _public_pem, witness_lines

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "verify_audit_export.py"


@pytest.fixture
def exported(trail, platform_key, tmp_path):
    export = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(export))
    pem = tmp_path / "audit.pem"
    pem.write_bytes(_public_pem(platform_key))
    return {"export": export, "witness": trail, "key": pem, "tmp": tmp_path}


def standalone(export, witness, key) -> tuple[int, int | None, str]:
    """Run the script in isolated mode (-I: no site dir, no PYTHONPATH, no current directory)
    from a directory outside the project."""
    run = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [
            sys.executable,
            "-I",
            str(SCRIPT),
            str(export),
            "--witness",
            str(witness),
            "--public-key",
            str(key),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=Path(witness).parent,
        check=False,
    )
    found = re.search(r"BROKEN at sequence (\d+)", run.stderr)
    return run.returncode, int(found.group(1)) if found else None, run.stdout + run.stderr


def in_project(export, witness, key, capsys) -> tuple[int, int | None, str]:
    capsys.readouterr()
    code = 0
    try:
        call_command(
            "verify_audit", "--export", str(export), "--witness", str(witness),
            "--public-key", str(key),
        )  # fmt: skip
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    found = re.search(r"BROKEN at sequence (\d+)", out.err)
    return code, int(found.group(1)) if found else None, out.out + out.err


def agree(exported, capsys, export=None, key=None) -> tuple[int, int | None]:
    args = (export or exported["export"], exported["witness"], key or exported["key"])
    ours = in_project(*args, capsys)
    theirs = standalone(*args)
    assert ours[:2] == theirs[:2], (ours, theirs)
    return ours[:2]


def test_the_script_imports_nothing_of_the_project():
    text = SCRIPT.read_text()
    assert not re.search(r"^\s*(from|import) (apps|config|django|tests)\b", text, re.M)


def test_a_good_export_passes_both(exported, capsys):
    assert agree(exported, capsys) == (0, None)
    code, _, out = standalone(exported["export"], exported["witness"], exported["key"])
    assert out.startswith("OK: 16 events") and "agrees with 3 witnessed checkpoints" in out


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, events) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    return path


def _rehash(events, start_index) -> None:
    prev = events[start_index - 1]["hash"] if start_index else "0" * 64
    for event in events[start_index:]:
        event["prev_hash"] = prev
        body = {k: v for k, v in event.items() if k != "hash"}
        event["hash"] = prev = hashlib.sha256(canonical_bytes(body)).hexdigest()


def test_an_edited_line_fails_both_at_that_event(exported, capsys):
    events = _lines(exported["export"])
    events[6]["payload"]["n"] = 99
    assert agree(exported, capsys, _write(exported["tmp"] / "edited.jsonl", events)) == (1, 7)


def test_a_rewritten_and_rehashed_export_fails_both_against_the_witness(exported, capsys):
    events = _lines(exported["export"])
    events[7]["payload"]["n"] = 99  # event 8, then every later hash recomputed
    _rehash(events, 7)
    bad = _write(exported["tmp"] / "rehashed.jsonl", events)
    assert agree(exported, capsys, bad) == (1, 6)  # after the checkpoint at 5, the last matching


def test_a_truncated_export_fails_both(exported, capsys):
    events = _lines(exported["export"])[:12]
    assert agree(exported, capsys, _write(exported["tmp"] / "cut.jsonl", events)) == (1, 13)


def test_a_truncated_export_with_a_forged_last_event_fails_both(exported, capsys):
    events = _lines(exported["export"])[:8]
    forged = dict(events[-1], seq=9, occurred_at=_lines(exported["export"])[-1]["occurred_at"])
    events.append(forged)
    _rehash(events, 8)
    assert agree(exported, capsys, _write(exported["tmp"] / "forged.jsonl", events)) == (1, 10)


def test_a_witness_signed_by_another_key_fails_both(exported, capsys):
    other = exported["tmp"] / "other.pem"
    other.write_bytes(_public_pem(Ed25519PrivateKey.generate()))
    assert agree(exported, capsys, key=other) == (1, 1)


def test_a_gap_in_the_witness_fails_both(exported, capsys):
    lines = witness_lines(exported["witness"])
    for path in exported["witness"].glob("witness-*.jsonl"):
        path.unlink()
    (exported["witness"] / "witness-2026-01-01.jsonl").write_text(
        json.dumps(lines[0]) + "\n" + json.dumps(lines[2]) + "\n"
    )
    assert agree(exported, capsys) == (1, 6)
