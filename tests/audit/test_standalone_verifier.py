"""scripts/verify_audit_export.py, run as an outside auditor would (a separate Python with
nothing of the project importable), agrees with `verify_audit --export` on a good export and on
each tampered one: same verdict, same first bad sequence number."""

import hashlib
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import call_command

from apps.audit.canonical import canonical_bytes
from apps.core.time import rfc3339
from tests.audit.test_witness import _public_pem, witness_lines

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "verify_audit_export.py"


@pytest.fixture
def exported(trail, platform_key, tmp_path):
    export = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(export))
    pem = tmp_path / "audit.pem"
    pem.write_bytes(_public_pem(platform_key))
    return {"export": export, "witness": trail, "key": pem, "tmp": tmp_path}


def standalone(export, witness, key, extra=()) -> tuple[int, int | None, str]:
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
            *extra,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=Path(witness).parent,
        check=False,
    )
    found = re.search(r"BROKEN at sequence (\d+)", run.stderr)
    return run.returncode, int(found.group(1)) if found else None, run.stdout + run.stderr


def in_project(export, witness, key, capsys, extra=()) -> tuple[int, int | None, str]:
    capsys.readouterr()
    code = 0
    try:
        call_command(
            "verify_audit", "--export", str(export), "--witness", str(witness),
            "--public-key", str(key), *extra,
        )  # fmt: skip
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    found = re.search(r"BROKEN at sequence (\d+)", out.err)
    return code, int(found.group(1)) if found else None, out.out + out.err


def agree(exported, capsys, export=None, key=None, extra=()) -> tuple[int, int | None]:
    args = (export or exported["export"], exported["witness"], key or exported["key"])
    ours = in_project(*args, capsys, extra=extra)
    theirs = standalone(*args, extra=extra)
    assert ours[:2] == theirs[:2], (ours, theirs)
    assert "Traceback" not in theirs[2], theirs[2]
    return ours[:2]


def outputs(exported, capsys, export=None, extra=()) -> tuple[str, str]:
    """What each verifier printed, the project's first."""
    args = (export or exported["export"], exported["witness"], exported["key"])
    return in_project(*args, capsys, extra=extra)[2], standalone(*args, extra=extra)[2]


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


# --- truncation is judged by the witness, not by the export's own times ------------------------


def test_a_truncated_export_with_a_backdated_export_event_fails_both(exported, capsys):
    # Events 1..7 (covering the checkpoint at 5), then the export event moved to seq 8 and dated
    # like event 7: the checkpoints at 10 and 15 look "witnessed after" it, yet must be reached.
    real = _lines(exported["export"])
    events = real[:7] + [dict(real[-1], seq=8, occurred_at=real[6]["occurred_at"])]
    _rehash(events, 7)
    bad = _write(exported["tmp"] / "backdated.jsonl", events)
    assert agree(exported, capsys, bad) == (1, 9)
    for out in outputs(exported, capsys, bad):
        assert "ends at 8 but the witness holds a checkpoint at 15" in out


def test_times_out_of_order_as_concurrent_appends_leave_them_pass_both(exported, capsys):
    # An event's time is taken before it gets its place in the chain: appends that race for the
    # head can leave a later seq a little earlier in time. That is no evidence of tampering.
    events = _lines(exported["export"])
    before = datetime.fromisoformat(events[14]["occurred_at"].replace("Z", "+00:00"))
    events[15]["occurred_at"] = rfc3339(before - timedelta(milliseconds=50))
    assert events[15]["occurred_at"] < events[14]["occurred_at"]
    _rehash(events, 15)
    assert agree(exported, capsys, _write(exported["tmp"] / "raced.jsonl", events)) == (0, None)


@pytest.fixture
def witnessed_since(exported, checkpoint):
    """After the export (events 1..16), events 17..20 and a checkpoint at 20, witnessed."""
    from apps.audit.events import EventType
    from apps.audit.services import audit_record

    for n in range(4):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"later": n})
    checkpoint()
    assert witness_lines(exported["witness"])[-1]["tree_size"] == 20
    return exported


def test_an_older_export_fails_both_without_as_of(witnessed_since, capsys):
    exported = witnessed_since
    assert agree(exported, capsys) == (1, 17)
    for out in outputs(exported, capsys):
        assert "ends at 16 but the witness holds a checkpoint at 20" in out and "--as-of" in out


def test_an_older_export_passes_both_as_of_its_tree_size(witnessed_since, capsys):
    exported = witnessed_since
    assert agree(exported, capsys, extra=["--as-of", "16"]) == (0, None)
    assert agree(exported, capsys, extra=["--as-of", "15"]) == (0, None)
    for out in outputs(exported, capsys, extra=["--as-of", "16"]):
        assert "agrees with 3 witnessed checkpoints" in out
        assert "held to the witness as of tree size 16" in out


def test_an_older_export_short_of_as_of_fails_both(witnessed_since, capsys):
    exported = witnessed_since
    # The export was taken at 16, but the auditor knows the trail had reached 18 by then.
    assert agree(exported, capsys, extra=["--as-of", "18"]) == (1, 17)
    for out in outputs(exported, capsys, extra=["--as-of", "18"]):
        assert "short of tree size 18" in out


def test_a_truncated_older_export_fails_both_as_of_its_tree_size(witnessed_since, capsys):
    exported = witnessed_since
    real = _lines(exported["export"])
    events = real[:12] + [dict(real[-1], seq=13)]
    _rehash(events, 12)
    bad = _write(exported["tmp"] / "cut-older.jsonl", events)
    assert agree(exported, capsys, bad, extra=["--as-of", "16"]) == (1, 14)


def test_as_of_checks_every_witnessed_checkpoint_the_export_covers(witnessed_since, capsys):
    # --as-of 5 does not switch off the roots of later checkpoints the export reaches.
    exported = witnessed_since
    events = _lines(exported["export"])
    events[7]["payload"]["n"] = 99
    _rehash(events, 7)
    bad = _write(exported["tmp"] / "rewritten.jsonl", events)
    assert agree(exported, capsys, bad, extra=["--as-of", "5"]) == (1, 6)


def test_as_of_must_be_a_tree_size(exported, capsys):
    from django.core.management.base import CommandError

    code, _, out = standalone(
        exported["export"], exported["witness"], exported["key"], extra=["--as-of", "0"]
    )
    assert code == 2 and "--as-of" in out
    with pytest.raises(CommandError, match="--as-of"):
        call_command("verify_audit", "--export", str(exported["export"]), "--as-of", "0",
                     "--witness", str(exported["witness"]))  # fmt: skip
    with pytest.raises(CommandError, match="--as-of goes with --export and --witness"):
        call_command("verify_audit", "--export", str(exported["export"]), "--as-of", "16")


# --- each line reads one way only ------------------------------------------------------------


def _edit_line(exported, index, edit, name) -> Path:
    raw = exported["export"].read_bytes().split(b"\n")
    raw[index] = edit(raw[index])
    path = exported["tmp"] / name
    path.write_bytes(b"\n".join(raw))
    return path


def test_a_name_twice_in_an_event_fails_both(exported, capsys):
    # A first-wins parser would read the forged payload, json.loads (last wins) the real one.
    bad = _edit_line(
        exported, 6, lambda line: line.replace(b"{", b'{"payload": {"n": 12345}, ', 1), "dup.jsonl"
    )
    assert agree(exported, capsys, bad) == (1, 7)
    for out in outputs(exported, capsys, bad):
        assert 'line 7: the name "payload" appears twice in one object' in out


def test_a_name_twice_in_a_nested_object_fails_both(exported, capsys):
    bad = _edit_line(
        exported, 6, lambda line: line.replace(b'{"n":', b'{"n": 0, "n":', 1), "dup2.jsonl"
    )
    assert agree(exported, capsys, bad) == (1, 7)
    assert all('the name "n" appears twice' in out for out in outputs(exported, capsys, bad))


def test_a_line_that_is_not_utf8_fails_both(exported, capsys):
    bad = _edit_line(exported, 6, lambda line: line.replace(b'"t"', b'"t\xff"', 1), "latin.jsonl")
    assert agree(exported, capsys, bad) == (1, 7)
    assert all("line 7: not UTF-8" in out for out in outputs(exported, capsys, bad))


def test_an_encoded_surrogate_fails_both(exported, capsys):
    # U+D800 written as UTF-8 bytes (CESU-8 style) is not UTF-8.
    bad = _edit_line(
        exported, 6, lambda line: line.replace(b'"t"', b'"t\xed\xa0\x80"', 1), "cesu.jsonl"
    )
    assert agree(exported, capsys, bad) == (1, 7)


def test_an_escaped_lone_surrogate_fails_both(exported, capsys):
    bad = _edit_line(exported, 6, lambda line: line.replace(b'"t"', b'"t\\ud800"', 1), "lone.jsonl")
    assert agree(exported, capsys, bad) == (1, 7)
    assert all("lone surrogate" in out for out in outputs(exported, capsys, bad))


def test_a_witness_line_with_a_name_twice_cannot_be_read(exported):
    path = sorted(exported["witness"].glob("witness-*.jsonl"))[0]
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("{", '{"tree_size": 1, ', 1)
    path.write_text("\n".join(lines) + "\n")
    code, _, out = standalone(exported["export"], exported["witness"], exported["key"])
    assert code == 2 and "is not a witness line" in out
