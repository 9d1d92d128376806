"""`crawler run` as a real subprocess against the simulator: exact archive, clean stops,
kill -9 resumption, one daemon per SQLite file, adaptive polling."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from crawler.sim import SimOptions, Simulator, running_simulator

from .helpers import archived, assert_archive_equals_truth, feed_arrivals, settle, spawn_crawler

CONFIG = """
[site]
base_url = "{base}"
[http]
requests_per_second = 0
concurrency = 4
timeout_seconds = 5
[schedule]
countries_every_minutes = 1
numbers_every_minutes = 0.1
inbox_min_minutes = 0.01
inbox_max_minutes = 0.05
"""


async def _start(sim: Simulator, tmp_path: Path, db: Path) -> asyncio.subprocess.Process:
    cfg = tmp_path / "daemon.toml"
    cfg.write_text(CONFIG.format(base=sim.base_url))
    return await spawn_crawler("--config", str(cfg), "--database", f"sqlite+aiosqlite:///{db}", "run")


def _readable(sim: Simulator) -> list[str]:
    return [n["number"] for n in sim.truth()["numbers"] if not n["gated"]]


@pytest.mark.slow
async def test_daemon_follows_arrivals_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    async with running_simulator(SimOptions(seed=31, countries=2, numbers_per_country=8)) as sim:
        proc = await _start(sim, tmp_path, db)
        feeder = asyncio.create_task(feed_arrivals(sim, _readable(sim), random.Random(1)))
        await asyncio.sleep(6)
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        await settle(sim, f"sqlite+aiosqlite:///{db}")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()
        assert "stopped:" in err.decode()
        assert_archive_equals_truth(db, sim.truth())
    assert not Path(f"{db}.lock").exists()
    con = sqlite3.connect(db)
    leased = con.execute("SELECT COUNT(*) FROM numbers WHERE lease_owner IS NOT NULL").fetchone()[0]
    polls = con.execute("SELECT COUNT(*) FROM crawl_runs WHERE kind = 'inbox'").fetchone()[0]
    con.close()
    assert leased == 0 and polls > 16


@pytest.mark.slow
async def test_kill9_daemon_repeatedly_then_restart_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    rng = random.Random(7)
    async with running_simulator(SimOptions(seed=32, countries=2, numbers_per_country=8)) as sim:
        numbers = _readable(sim)
        feeder = asyncio.create_task(feed_arrivals(sim, numbers, rng))
        try:
            for _ in range(5):
                proc = await _start(sim, tmp_path, db)
                await asyncio.sleep(rng.uniform(0.8, 3.0))
                proc.kill()
                await proc.wait()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        proc = await _start(sim, tmp_path, db)
        try:
            await settle(sim, f"sqlite+aiosqlite:///{db}")
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0


async def test_second_daemon_on_the_same_sqlite_file_refuses(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    async with running_simulator(SimOptions(seed=33, countries=1, numbers_per_country=3)) as sim:
        first = await _start(sim, tmp_path, db)
        try:
            await asyncio.sleep(2.0)
            second = await _start(sim, tmp_path, db)
            _, err = await asyncio.wait_for(second.communicate(), timeout=30)
            assert second.returncode == 1
            line = err.decode().strip()
            assert line.startswith("Error: another `crawler run`") and str(db) in line and "\n" not in line
        finally:
            first.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.communicate(), timeout=30)
        assert first.returncode == 0


@pytest.mark.slow
async def test_busy_inbox_is_polled_more_often_than_a_quiet_one(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    cfg_text = CONFIG.replace("inbox_max_minutes = 0.05", "inbox_max_minutes = 0.5")
    async with running_simulator(SimOptions(seed=34, countries=1, numbers_per_country=4)) as sim:
        numbers = _readable(sim)
        busy, quiet = numbers[0], numbers[1]
        cfg = tmp_path / "daemon.toml"
        cfg.write_text(cfg_text.format(base=sim.base_url))
        proc = await spawn_crawler("--config", str(cfg), "--database", f"sqlite+aiosqlite:///{db}", "run")

        async def busy_feed() -> None:
            while True:
                await asyncio.sleep(0.2)
                sim.add_messages(busy, 2)  # 600 a minute: the rate estimate must notice

        feeder = asyncio.create_task(busy_feed())
        await asyncio.sleep(20)
        feeder.cancel()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
    con = sqlite3.connect(db)
    counts: dict[str, Any] = dict(
        con.execute("SELECT detail, COUNT(*) FROM crawl_runs WHERE kind = 'inbox' GROUP BY detail").fetchall()
    )
    con.close()
    assert counts.get(busy, 0) >= 3 * counts.get(quiet, 0) > 0, counts
    assert archived(db)[busy]
