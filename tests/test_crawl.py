"""The archive core against the real simulator on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

from crawler.crawl import CrawlReport, crawl_pass
from crawler.sim import Simulator
from crawler.storage.db import open_archive

from .helpers import archived_rows, assert_archive_matches, make_config


async def _crawl(sim: Simulator, url: str, **kw: object) -> CrawlReport:
    assert sim.base_url
    cfg = make_config(sim.base_url, url)
    async with open_archive(url) as engines:
        return await crawl_pass(engines, cfg, **kw)  # type: ignore[arg-type]


def _inbox_requests(sim: Simulator) -> int:
    return int(sim.request_counts()["by_kind"]["inbox"])


async def test_first_crawl_archives_exactly_the_truth(sim: Simulator, archive_url: str) -> None:
    report = await _crawl(sim, archive_url)
    assert not report.errors, report.errors
    checked = await assert_archive_matches(archive_url, sim.truth())
    assert checked > 100
    assert report.walk.new_messages == checked
    assert report.new_numbers == len(sim.truth()["numbers"])
    assert (await _crawl(sim, archive_url)).new_numbers == 0


async def test_repeat_pass_after_clock_moves_stores_nothing_and_reads_one_page_per_inbox(
    sim: Simulator, archive_url: str
) -> None:
    await _crawl(sim, archive_url)
    before = {k: [(s, b) for s, b, _, _ in v] for k, v in (await archived_rows(archive_url)).items()}
    inboxes = sum(1 for n in sim.truth()["numbers"] if not n["gated"])
    for seconds in (7 * 60, 5 * 3600, 3 * 86400):
        sim.advance(seconds)
        start = _inbox_requests(sim)
        report = await _crawl(sim, archive_url)
        assert report.walk.new_messages == 0
        assert _inbox_requests(sim) - start == inboxes, f"after +{seconds}s"
        after = {k: [(s, b) for s, b, _, _ in v] for k, v in (await archived_rows(archive_url)).items()}
        assert after == before
        await assert_archive_matches(archive_url, sim.truth())


async def test_new_messages_with_exact_repeats_are_added_once_each(sim: Simulator, archive_url: str) -> None:
    await _crawl(sim, archive_url)
    truth = sim.truth()
    target = max((n for n in truth["numbers"] if not n["gated"]), key=lambda n: len(n["messages"]))
    for k in (1, 3, 9, 14):
        sim.advance(90)
        added = sim.add_messages(target["number"], k, repeat_ratio=0.6)
        assert len(added) == k
        start = _inbox_requests(sim)
        before = len((await archived_rows(archive_url)).get(target["number"], []))
        await _crawl(sim, archive_url, countries=[target["country"]])
        got = len((await archived_rows(archive_url))[target["number"]])
        assert got - before == k
        others = sum(1 for n in sim.truth()["numbers"] if n["country"] == target["country"]) - 1
        used = _inbox_requests(sim) - start - others
        assert abs(used - math.ceil((k + 1) / 10)) <= 1, (k, used)
        await assert_archive_matches(archive_url, sim.truth())


async def test_requests_in_flight_never_exceed_http_concurrency(sim: Simulator, archive_url: str) -> None:
    """More inbox walks than request slots run at once (they wait for the writer too), but
    the site never sees more than http.concurrency requests at a time."""
    assert sim.base_url
    sim.set_faults(rate_slow=1.0, slow_seconds=0.02)  # every request takes a while: they pile up
    sim.reset_requests()
    try:
        cfg = make_config(sim.base_url, archive_url, concurrency=2)
        async with open_archive(archive_url) as engines:
            report = await crawl_pass(engines, cfg)
    finally:
        sim.set_faults()
    assert not report.errors, report.errors
    assert sim.request_counts()["max_in_flight"] == 2
    await assert_archive_matches(archive_url, sim.truth())
