"""The apps depend one way: an app imports only the apps below it (docs/architecture.md).

Read from the source, so that an import inside a function counts as much as one at the top."""

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"

# Top floor first. Apps on one floor may not import each other.
FLOORS = [
    ["demo"],
    ["reporting", "monitoring"],
    ["surveillance"],
    ["marketdata"],
    ["rules"],
    ["killswitch"],
    ["approvals"],
    ["trading"],
    ["changes"],
    ["notifications"],
    ["audit"],
    ["rbac"],
    ["core"],
]
FLOOR = {app: level for level, apps in enumerate(FLOORS) for app in apps}


def imported_apps(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "apps" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_app_has_a_floor():
    on_disk = {p.name for p in APPS.iterdir() if (p / "apps.py").exists()}
    assert on_disk == set(FLOOR)


@pytest.mark.parametrize("app", sorted(FLOOR))
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = []
    for path in sorted((APPS / app).rglob("*.py")):
        for other in imported_apps(path) - {app}:
            if FLOOR.get(other, -1) <= FLOOR[app]:
                wrong.append(f"{path.relative_to(APPS)} imports apps.{other}")
    assert not wrong, "\n".join(wrong)
