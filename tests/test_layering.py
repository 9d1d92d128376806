"""crawler/sites/ stays pure: no network, database, event loop or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SITES = Path(__file__).resolve().parent.parent / "crawler" / "sites"
FORBIDDEN_MODULES = {"aiohttp", "sqlalchemy", "asyncio", "time"}
CLOCK_CALLS = {"now", "utcnow", "today"}


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{path.name}:{node.lineno} imports {name}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS
        ):
            found.append(f"{path.name}:{node.lineno} reads the clock (.{node.func.attr}())")
    return found


MODULES = sorted(SITES.glob("*.py"))


def test_there_are_site_modules() -> None:
    assert {p.name for p in MODULES} >= {"base.py", "smstome.py", "reltime.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_site_module_is_pure(path: Path) -> None:
    assert _problems(path) == []


def test_checker_catches_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import asyncio\nfrom sqlalchemy import select\nimport aiohttp.web\nimport time\n"
        "from datetime import datetime\nx = datetime.now()\ny = datetime.utcnow()\n"
    )
    assert len(_problems(bad)) == 6
