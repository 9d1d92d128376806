"""Nothing lost, nothing twice: kill -9 `crawler crawl` at random moments, under arrivals
and fault storms; a final pass must leave the archive equal to the site."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from pathlib import Path

import pytest

from crawler.sim import SimOptions, Simulator, running_simulator

from .helpers import assert_archive_equals_truth, spawn_crawler

CONFIG = """
[http]
requests_per_second = 0
concurrency = 4
max_retries = 8
timeout_seconds = 3
"""


async def _crawl_proc(sim: Simulator, db: Path, cfg: Path) -> asyncio.subprocess.Process:
    return await spawn_crawler(
        "--config", str(cfg), "--database", f"sqlite+aiosqlite:///{db}",
        "crawl", "--base-url", sim.base_url, "--no-progress",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _arrivals(sim: Simulator, rng: random.Random, numbers: list[str]) -> None:
    while True:
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        sim.advance(rng.uniform(1, 40))
        sim.add_messages(rng.choice(numbers), rng.randint(1, 4), repeat_ratio=0.5)


async def _kill_loop(sim: Simulator, tmp_path: Path, rounds: int, seed: int) -> int:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    db = tmp_path / "a.db"
    rng = random.Random(seed)
    numbers = [n["number"] for n in sim.truth()["numbers"] if not n["gated"]]
    killed = 0
    for _ in range(rounds):
        feeder = asyncio.create_task(_arrivals(sim, rng, numbers))
        proc = await _crawl_proc(sim, db, cfg)
        try:
            await asyncio.wait_for(proc.wait(), timeout=rng.uniform(0.4, 3.0))
        except TimeoutError:
            proc.kill()  # SIGKILL: no cleanup, no flush, exactly like a power cut
            killed += 1
            await proc.wait()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
    sim.set_faults()  # the final, clean pass
    proc = await _crawl_proc(sim, db, cfg)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert_archive_equals_truth(db, sim.truth())
    return killed


@pytest.mark.slow
async def test_kill9_during_crawls_with_arrivals_loses_nothing(tmp_path: Path) -> None:
    options = SimOptions(seed=21, countries=2, numbers_per_country=15, frozen=True, slow_seconds=0.15, rate_slow=0.5)
    async with running_simulator(options) as sim:
        killed = await _kill_loop(sim, tmp_path, rounds=8, seed=3)
    assert killed >= 3  # the test is only worth something if it really interrupted crawls


@pytest.mark.slow
async def test_kill9_under_429_5xx_and_reset_storms_loses_nothing(tmp_path: Path) -> None:
    options = SimOptions(seed=22, countries=2, numbers_per_country=12, frozen=True, slow_seconds=0.1, rate_slow=0.3)
    async with running_simulator(options) as sim:
        sim.set_faults(sim.faults.replace(rate_429=0.15, retry_after=1, rate_5xx=0.15, rate_drop=0.1))
        killed = await _kill_loop(sim, tmp_path, rounds=6, seed=4)
    assert killed >= 2
