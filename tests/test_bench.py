"""`crawler bench` cannot rot: a tiny run prints every figure. No timed assertions here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.bench.runner import format_table
from crawler.storage import archive
from crawler.storage.archive import CountryIn, Narrowing, NewMessage, NumberIn
from crawler.storage.db import open_archive

TINY = [
    "--size", "small", "--countries", "1", "--numbers", "6", "--messages", "25",
    "--archive-rows", "3000", "--storage-rows", "400", "--parser-pages", "12",
]  # fmt: skip
HAVE_BASELINE = all(importlib.util.find_spec(m) is not None for m in ("requests", "bs4"))


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "bench", *args], capture_output=True, text=True, timeout=timeout
    )


def test_bench_smoke_prints_every_figure() -> None:
    extra = ["--baseline"] if HAVE_BASELINE else []
    done = bench(*TINY, *extra, "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    crawl = r["crawl"]
    assert crawl["errors"] == 0, crawl["first_error"]
    assert crawl["inbox_pages"] >= 6 * 3  # 25 messages = 3 pages per inbox
    assert crawl["messages"] == 6 * 25
    for key in ("pages_per_second", "messages_per_second", "cpu_ms_per_page", "peak_rss_mb"):
        assert crawl[key] > 0, key
    # The repeat pass over an unchanged site: exactly one request per inbox (a count).
    assert r["repeat"]["inboxes"] == 6
    assert r["repeat"]["inbox_requests"] == 6
    assert r["repeat"]["new_messages"] == 0
    assert r["arrivals"]["new_messages"] == r["arrivals"]["arrived"] > 0
    assert r["arrivals"]["inbox_requests"] == 6
    assert r["arrivals"]["requests_per_new_message"] > 0
    assert r["parser"]["pages_per_second"] > 0 and r["parser"]["pages"] == 12
    assert r["storage"]["rows_per_second"] > 0
    assert r["storage"]["stored"] == r["storage"]["rows"] * 3 // 4  # 25% were duplicates
    assert r["export"]["rows"] == 3000 and r["export"]["rows_per_second"] > 0
    assert r["query"]["median_ms"] > 0 and r["query"]["archive_rows"] == 3000
    if HAVE_BASELINE:
        assert r["baseline"]["inbox_pages"] == crawl["inbox_pages"] - crawl["refetches"]
        assert set(r["ratios"]) == {"pages_per_second", "cpu_ms_per_page", "peak_rss_mb"}
    table = format_table(r)
    for label in (
        "inbox pages/s", "messages/s", "CPU ms per page", "peak RSS MB", "simulator CPU %",
        "repeat pass: requests per inbox", "requests per new message", "parser alone",
        "upsert rows/s", "export: rows/s", "get_messages page 1",
    ):  # fmt: skip
        assert label in table, label


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--messages", "0"], "--messages must be at least 1"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--archive-rows", "10"], "--archive-rows must be at least 1000"),
    ],
)
def test_bench_refuses_bad_sizes_with_one_line(args: list[str], message: str) -> None:
    done = bench(*args, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


async def test_write_path_drops_stale_walks_and_narrows_in_one_go(tmp_path: Path) -> None:
    """The batched write path the benchmark measures keeps store_walk's guarantees."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as engines:
        ids = await archive.upsert_countries(engines, [CountryIn("fi", "Finland", "358", "http://x/country/fi", None)], t0)
        await archive.upsert_numbers(engines, ids["fi"], [NumberIn("358700900301", 1, "http://x/i", None, None)], t0)
        (inbox,) = await archive.inboxes(engines, [ids["fi"]])
        rows = [NewMessage("A", f"code {i}", "1 min ago", t0, t0 - timedelta(minutes=2), t0) for i in range(3)]
        assert await archive.store_walk(engines, inbox, rows, [], polled_at=t0, gap=False, truncated=False) == 3
        # The same walk again, from the stale state: dropped, nothing doubled.
        assert await archive.store_walk(engines, inbox, rows, [], polled_at=t0, gap=False, truncated=False) == -1
        assert await archive.message_total(engines) == 3
        (fresh,) = await archive.inboxes(engines, [ids["fi"]])
        assert (fresh.top_seq, fresh.message_count, fresh.walk_complete) == (3, 3, True)
        stored = await archive.newest_rows(engines, fresh.id, 10)
        tighter = [Narrowing(r.id, t0 - timedelta(minutes=1), t0 - timedelta(seconds=30)) for r in stored[:2]]
        assert await archive.store_walk(engines, fresh, [], tighter, polled_at=t0, gap=False, truncated=False) == 0
        after = {r.id: (r.earliest, r.latest) for r in await archive.newest_rows(engines, fresh.id, 10)}
        for n in tighter:
            assert after[n.message_id] == (n.earliest, n.latest)
        assert after[stored[2].id] == (t0 - timedelta(minutes=2), t0)


def test_bench_scrapy_crawls_the_whole_tiny_site() -> None:
    """`--scrapy` (optional extra): the Scrapy spider reads every inbox page, as our crawl does."""
    pytest.importorskip("scrapy")
    done = bench(*TINY, "--scrapy", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    crawl, spider = r["crawl"], r["scrapy"]
    assert spider["errors"] == 0
    assert spider["inboxes"] == 6
    assert spider["inbox_pages"] == crawl["inbox_pages"] - crawl["refetches"] == 6 * 3
    assert spider["messages"] == 6 * 25 + r["arrivals"]["arrived"]  # it runs after the arrivals pass
    assert spider["pages_per_second"] > 0 and spider["cpu_ms_per_page"] > 0 and spider["peak_rss_mb"] > 0
    assert set(r["scrapy_ratios"]) == {"pages_per_second", "cpu_ms_per_page", "peak_rss_mb"}
    assert "ratios" not in r  # no --baseline
    table = format_table(r)
    assert f"scrapy (Scrapy {spider['version']} spider + sqlite3 pipeline, concurrency 8, 6 inboxes)" in table
    assert "x scrapy)" in table and "baseline" not in table
