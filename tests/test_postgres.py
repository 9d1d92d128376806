"""Scale-out on PostgreSQL: several daemons share one database without ever walking the
same inbox at the same time; a killed daemon's inboxes are taken over; copy from SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from crawler.crawl import crawl_pass
from crawler.sim import SimOptions, Simulator, running_simulator
from crawler.storage.copy import copy_archive
from crawler.storage.db import open_archive

from .helpers import feed_arrivals, make_config, settle, spawn_crawler, throwaway_postgres

pytestmark = pytest.mark.postgres

CONFIG = """
[site]
base_url = "{base}"
[http]
requests_per_second = 0
concurrency = 3
timeout_seconds = 5
[schedule]
countries_every_minutes = 1
numbers_every_minutes = 0.1
inbox_min_minutes = 0.01
inbox_max_minutes = 0.05
lease_seconds = 3
"""


async def _daemon(sim: Simulator, tmp_path: Path, url: str) -> asyncio.subprocess.Process:
    cfg = tmp_path / "pg.toml"
    cfg.write_text(CONFIG.format(base=sim.base_url))
    return await spawn_crawler("--config", str(cfg), "--database", url, "run")


def _overlapping_walks(log: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Inbox walks (runs of one client's requests to one inbox) that overlap in time."""
    by_inbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in log:
        if entry["kind"] == "inbox" and entry.get("finished"):
            e = dict(entry, started=_ts(entry["started"]), finished=_ts(entry["finished"]))
            by_inbox[entry["path"].split("?")[0]].append(e)
    clashes = []
    for inbox, entries in by_inbox.items():
        entries.sort(key=lambda e: e["started"])
        spans: list[tuple[str, float, float]] = []
        for e in entries:
            if spans and spans[-1][0] == e["client"] and e["started"] - spans[-1][2] < 0.5:
                spans[-1] = (e["client"], spans[-1][1], max(spans[-1][2], e["finished"]))
            else:
                spans.append((e["client"], e["started"], e["finished"]))
        for a, b in zip(spans, spans[1:], strict=False):
            if a[0] != b[0] and b[1] < a[2]:
                clashes.append((inbox, a[0], b[0]))
    return clashes


@pytest.mark.slow
async def test_three_daemons_share_the_work_and_one_is_killed(tmp_path: Path) -> None:
    async with throwaway_postgres() as url, running_simulator(
        SimOptions(seed=41, countries=2, numbers_per_country=10, log_limit=200_000)
    ) as sim:
        numbers = [n["number"] for n in sim.truth()["numbers"]]
        feeder = asyncio.create_task(feed_arrivals(sim, numbers, random.Random(5)))
        daemons = [await _daemon(sim, tmp_path, url) for _ in range(3)]
        try:
            await asyncio.sleep(8)
            for proc in daemons:
                if proc.returncode is not None:  # a daemon must not die on its own
                    _, err = await proc.communicate()
                    raise AssertionError(err.decode()[-3000:])
            daemons[0].kill()  # mid-walk or not: its leases must expire and be taken over
            await daemons[0].wait()
            await asyncio.sleep(6)
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        try:
            await settle(sim, url)
        finally:
            for proc in daemons[1:]:
                proc.send_signal(signal.SIGTERM)
            for proc in daemons[1:]:
                await asyncio.wait_for(proc.communicate(), timeout=40)
        assert all(p.returncode == 0 for p in daemons[1:])
        counts = sim.request_counts(log=True)
        clients = {e["client"] for e in counts["log"] if e["kind"] == "inbox"}
        assert len(clients) == 3  # all three daemons really polled
        assert _overlapping_walks(counts["log"]) == []


async def test_copy_sqlite_archive_into_postgresql_is_exact_and_idempotent(tmp_path: Path) -> None:
    lite = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    async with running_simulator(SimOptions(seed=42, countries=2, numbers_per_country=6, frozen=True)) as sim:
        assert sim.base_url
        async with open_archive(lite) as engines:
            await crawl_pass(engines, make_config(sim.base_url, lite))
    columns = (
        "country, number, sender, received_at, received_at_min, received_at_max, received_text, "
        "message, first_seen_at, code, service, sms_id, seq"
    )
    query = text(f"SELECT {columns} FROM message_history ORDER BY number, sms_id, seq")
    async with throwaway_postgres() as pg:
        async with open_archive(lite) as source, open_archive(pg) as target:
            first = await copy_archive(source, target)
            second = await copy_archive(source, target)
            async with source.reader.connect() as a, target.reader.connect() as b:
                rows_a = (await a.execute(query)).all()
                rows_b = (await b.execute(query)).all()
        assert first.messages_added == len(rows_a) > 50
        assert second.messages_added == 0
        assert len(rows_a) == len(rows_b)
        for ra, rb in zip(rows_a, rows_b, strict=True):
            norm_a = tuple(_norm(v) for v in ra)
            norm_b = tuple(_norm(v) for v in rb)
            assert norm_a == norm_b


def _ts(value: object) -> float:
    from datetime import datetime

    return value if isinstance(value, float) else datetime.fromisoformat(str(value)).timestamp()


def _norm(value: object) -> object:
    from datetime import datetime

    if isinstance(value, str) and len(value) >= 25 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value)
    return value


def test_overlap_detector_sees_overlaps() -> None:
    log = [
        {"kind": "inbox", "path": "/x/phone/1/sms/1", "client": "a", "started": 1.0, "finished": 1.2},
        {"kind": "inbox", "path": "/x/phone/1/sms/1?page=2", "client": "a", "started": 1.3, "finished": 1.6},
        {"kind": "inbox", "path": "/x/phone/1/sms/1", "client": "b", "started": 1.5, "finished": 1.7},
        {"kind": "inbox", "path": "/x/phone/2/sms/2", "client": "b", "started": 1.0, "finished": 1.1},
        {"kind": "inbox", "path": "/x/phone/2/sms/2", "client": "a", "started": 2.0, "finished": 2.1},
    ]
    assert _overlapping_walks(log) == [("/x/phone/1/sms/1", "a", "b")]


async def test_daemons_starting_together_migrate_once_without_racing() -> None:
    from crawler.storage.db import create_engines, migrate_to_head

    async with throwaway_postgres() as url:
        engines = [create_engines(url) for _ in range(4)]
        try:
            applied = await asyncio.gather(*(migrate_to_head(e) for e in engines))
        finally:
            for e in engines:
                await e.dispose()
    assert sorted(applied) == [False, False, False, True]
