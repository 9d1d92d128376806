"""Helpers shared by the tests (importable: `from .helpers import ...`)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.config import Config, HttpConfig


def make_config(base_url: str, db_url: str, **http: Any) -> Config:
    """Full speed, no robots delay, few retries: what tests and the demo use."""
    cfg = Config()
    options = {"requests_per_second": 0.0, "concurrency": 4, "max_retries": 4, "timeout_seconds": 5.0}
    options.update(http)
    return cfg.replace(
        site=dataclasses.replace(cfg.site, base_url=base_url),
        database=dataclasses.replace(cfg.database, url=db_url),
        http=dataclasses.replace(HttpConfig(), **options),
    )


def archived(db_path: Path) -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    """number -> [(sender, body, min, max)] newest first, read with plain sqlite3."""
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT number, sender, message, received_at_min, received_at_max FROM message_history "
            "ORDER BY number, seq DESC"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str, str | None, str | None]]] = {}
    for number, sender, body, lo, hi in rows:
        out.setdefault(number, []).append((sender, body, lo, hi))
    return out


def assert_archive_equals_truth(db_path: Path, truth: dict[str, Any]) -> int:
    """Every readable inbox archived exactly: same rows in the same order, times inside bounds."""
    got = archived(db_path)
    checked = 0
    for entry in truth["numbers"]:
        if entry["gated"]:
            assert entry["number"] not in got, f"gated inbox {entry['number']} archived rows"
            continue
        want = entry["messages"]
        have = got.get(entry["number"], [])
        got_rows = [(s, b) for s, b, _, _ in have]
        want_rows = [(m["sender"], m["body"]) for m in want]
        assert got_rows == want_rows, _first_difference(entry["number"], got_rows, want_rows)
        for (_, _, lo, hi), m in zip(have, want, strict=True):
            true = datetime.fromisoformat(m["received_at"])
            assert lo is not None and hi is not None, m
            assert datetime.fromisoformat(lo) <= true <= datetime.fromisoformat(hi), (m, lo, hi)
        checked += len(want)
    return checked


def _first_difference(number: str, got: list[tuple[str, str]], want: list[tuple[str, str]]) -> str:
    i = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    return (
        f"inbox {number}: archived {len(got)} rows, site has {len(want)}; first difference at row {i} "
        f"(newest first): archived {got[i:i + 3]!r}, site {want[i:i + 3]!r}"
    )
