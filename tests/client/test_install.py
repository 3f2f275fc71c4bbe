"""`pip install ./clients/python` in a clean virtual environment: the client and its command
line work there, and Django is nowhere (a trading system depends on httpx alone)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"


@pytest.mark.slow
def test_the_client_installs_and_runs_without_django(tmp_path):
    source = tmp_path / "client"  # a copy: the build leaves nothing in the working tree
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "dist"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, cli = venv / "bin" / "python", venv / "bin" / "compliance-cli"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        check=True,
        timeout=600,
    )
    probe = (
        "import importlib.util, compliance_client, httpx;"
        "print(importlib.util.find_spec('django') is None, compliance_client.__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["True", "0.1.0"]
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.lower()
    assert "compliance-client==0.1.0" in installed and "django" not in installed
    helped = subprocess.run([str(cli), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "submit" in helped.stdout and "kill-switch" in helped.stdout
