"""`crawler wait` against the real simulator over 127.0.0.1: as a subprocess and in-process."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crawler.crawl import crawl_pass
from crawler.sim import SimOptions, Simulator, running_simulator
from crawler.storage.db import open_archive
from crawler.wait import Match, WaitTimeout, wait_for

from .helpers import archived, make_config, spawn_crawler


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    options = SimOptions(seed=5, countries=1, numbers_per_country=3, frozen=True, quirks=False)
    async with running_simulator(options) as s:
        yield s


@pytest.fixture
async def crawled(sim: Simulator, db_url: str) -> str:
    """The simulator archived once; returns a number in it."""
    assert sim.base_url is not None
    async with open_archive(db_url) as engines:
        await crawl_pass(engines, make_config(sim.base_url, db_url))
    number: str = sim.truth()["numbers"][0]["number"]
    return number


def inject(sim: Simulator, number: str, sender: str, body: str) -> None:
    """One message with exactly this text, arriving now (add_messages draws random text)."""
    sim.world._append(sim.world.by_digits[number], sim.now(), sender, body, 0)


def _config(tmp_path: Path, sim: Simulator, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[site]\nbase_url = "{sim.base_url}"\n[database]\nurl = "{db_url}"\n'
        "[http]\nrequests_per_second = 0\ntimeout_seconds = 5\n",
        encoding="utf-8",
    )
    return path


async def _start(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    return await spawn_crawler(
        "--config", str(config), "wait", *args,
        env=env,
    )  # fmt: skip


async def test_wait_prints_new_match_and_ignores_others(sim: Simulator, crawled: str, db_url: str, db_path: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, sim, db_url)
    proc = await _start(config, "+" + crawled, "--sender", "acme", "--contains", "MAGIC", "--timeout", "60", "--interval", "0.3")
    await asyncio.sleep(1.0)
    inject(sim, crawled, "Acme", "Hello, nothing to see")  # right sender, wrong text
    inject(sim, crawled, "Other", "Your magic code is 111111")  # right text, wrong sender
    await asyncio.sleep(1.5)
    assert proc.returncode is None, "a non-matching message ended the wait"
    inject(sim, crawled, "ACME", "Your magic code is 482-913. Do not share it.")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = out.decode().strip().splitlines()
    assert proc.returncode == 0, err.decode()
    assert lines[0].startswith(f"+{crawled} from ACME at ")
    assert "Your magic code is 482-913" in lines[1] and lines[-1] == "482913"
    # What wait saw is stored exactly, as a crawl would have stored it.
    bodies = [b for _, b, _, _ in archived(db_path)[crawled]]
    assert bodies[:3] == ["Your magic code is 482-913. Do not share it.", "Your magic code is 111111", "Hello, nothing to see"]


async def test_wait_times_out_with_one_line(sim: Simulator, crawled: str, db_url: str, tmp_path: Path) -> None:
    proc = await _start(_config(tmp_path, sim, db_url), crawled, "--sender", "nobody", "--timeout", "1.5", "--interval", "0.2")
    await asyncio.sleep(0.5)
    inject(sim, crawled, "Acme", "not for you")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1 and out == b""
    assert len(lines) == 1 and lines[0].startswith(f"Error: no new matching message for +{crawled} within 1.5 s")


async def test_wait_needs_an_archived_number(sim: Simulator, crawled: str, db_url: str, tmp_path: Path) -> None:
    proc = await _start(_config(tmp_path, sim, db_url), "+441234567890", "--timeout", "5")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and "crawler crawl --country" in err.decode()


async def test_old_messages_from_a_stale_archive_do_not_count(sim: Simulator, crawled: str, db_url: str) -> None:
    assert sim.base_url is not None
    inject(sim, crawled, "Acme", "Your code is 123456 (an old one)")
    sim.advance(600)  # the archive missed it, and it is 10 minutes old when wait starts
    config = make_config(sim.base_url, db_url)
    async with open_archive(db_url) as engines:
        with pytest.raises(WaitTimeout):
            await wait_for(engines, config, crawled, Match(sender="acme"), seconds=1.0, interval=0.2)
        inject(sim, crawled, "Acme", "Your code is 654321")  # "just now" at the first poll: counts
        got = await wait_for(engines, config, crawled, Match(sender="acme"), seconds=5.0, interval=0.2)
    assert got.message.body == "Your code is 654321" and got.message.code == "654321"
