"""The archive core against the real simulator on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

import math
from pathlib import Path

from crawler.crawl import crawl_pass
from crawler.sim import Simulator
from crawler.storage.db import open_archive

from .helpers import archived, assert_archive_equals_truth, make_config


async def _crawl(sim: Simulator, db_url: str, **kw: object):
    cfg = make_config(sim.base_url, db_url)
    async with open_archive(db_url) as engines:
        return await crawl_pass(engines, cfg, **kw)  # type: ignore[arg-type]


def _inbox_requests(sim: Simulator) -> int:
    return int(sim.request_counts()["by_kind"]["inbox"])


async def test_first_crawl_archives_exactly_the_truth(sim: Simulator, db_url: str, db_path: Path) -> None:
    report = await _crawl(sim, db_url)
    assert not report.errors, report.errors
    checked = assert_archive_equals_truth(db_path, sim.truth())
    assert checked > 100
    assert report.walk.new_messages == checked


async def test_repeat_pass_after_clock_moves_stores_nothing_and_reads_one_page_per_inbox(
    sim: Simulator, db_url: str, db_path: Path
) -> None:
    await _crawl(sim, db_url)
    before = archived(db_path)
    inboxes = sum(1 for n in sim.truth()["numbers"] if not n["gated"])
    for seconds in (7 * 60, 5 * 3600, 3 * 86400):
        sim.advance(seconds)
        start = _inbox_requests(sim)
        report = await _crawl(sim, db_url)
        assert report.walk.new_messages == 0
        assert _inbox_requests(sim) - start == inboxes, f"after +{seconds}s"
        after = archived(db_path)
        assert [(k, [(s, b) for s, b, _, _ in v]) for k, v in after.items()] == [
            (k, [(s, b) for s, b, _, _ in v]) for k, v in before.items()
        ]
        assert_archive_equals_truth(db_path, sim.truth())


async def test_new_messages_with_exact_repeats_are_added_once_each(
    sim: Simulator, db_url: str, db_path: Path
) -> None:
    await _crawl(sim, db_url)
    truth = sim.truth()
    target = max((n for n in truth["numbers"] if not n["gated"]), key=lambda n: len(n["messages"]))
    for k in (1, 3, 9, 14):
        sim.advance(90)
        added = sim.add_messages(target["number"], k, repeat_ratio=0.6)
        assert len(added) == k
        start = _inbox_requests(sim)
        before = len(archived(db_path).get(target["number"], []))
        await _crawl(sim, db_url, countries=[target["country"]])
        got = len(archived(db_path)[target["number"]])
        assert got - before == k
        others = sum(1 for n in sim.truth()["numbers"] if n["country"] == target["country"]) - 1
        used = _inbox_requests(sim) - start - others
        assert abs(used - math.ceil((k + 1) / 10)) <= 1, (k, used)
        assert_archive_equals_truth(db_path, sim.truth())
