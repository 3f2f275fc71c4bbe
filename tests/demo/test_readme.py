"""README's API example runs as written against the demo: a token, then an order decided."""

import json
import re
import subprocess
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from apps.trading.models import Order

ROOT = Path(__file__).resolve().parents[2]


def _api_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Using the API") :]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_curl_example_submits_an_order(audit_transactional_db, live_server):
    script = _api_example()
    password = re.search(r'"password": "([^"]+)"', script).group(1)  # the published default
    call_command("seed_demo", "--no-history", "--password", password, stdout=StringIO())
    script = script.replace("localhost:8000", live_server.url.removeprefix("http://"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == "accepted", answer
    order = Order.objects.get(pk=answer["id"])
    assert (order.account.code, order.instrument.symbol) == ("ACC-001", "BTC-USD")
