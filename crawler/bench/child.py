"""The measured crawls, each in its own process: `python -m crawler.bench.child MODE JSON`.

A child prints one JSON object per line: `{"event": "start"}` right before each timed part
(the parent samples the simulator's CPU then), then the result of that part. Process CPU
time (all threads, SQLite's worker thread too) and peak RSS are this process's own.

Mode `crawl` runs three passes over the (frozen) simulated site into one archive:
`full` (empty archive), `repeat` (nothing changed: one request per inbox is the floor),
`arrivals` (ARRIVALS new messages on every ARRIVAL_EVERY-th inbox first). Modes `baseline`
and `scrapy` run one crawl of a baseline (crawler.bench.baseline, crawler.bench.scrapy_baseline).
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from crawler.bench.simproc import get_json

if TYPE_CHECKING:
    from crawler.config import Config
    from crawler.storage.db import Engines

ARRIVALS = 3
ARRIVAL_EVERY = 10


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux: VmHWM, not ru_maxrss, which keeps the parent's peak
    across the vfork + exec that subprocess uses (every child would report at least the
    parent's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def post_json(url: str, data: dict[str, Any]) -> None:
    req = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def bench_config(base_url: str, db_url: str, concurrency: int) -> Config:
    from crawler.config import Config

    cfg = Config()
    return cfg.replace(
        site=dataclasses.replace(cfg.site, base_url=base_url, countries=()),
        database=dataclasses.replace(cfg.database, url=db_url),
        http=dataclasses.replace(
            cfg.http, requests_per_second=0.0, concurrency=concurrency, cookies_file="", max_retries=2
        ),
    )


async def _arrive(engines: Engines, base_url: str) -> int:
    from sqlalchemy import select

    from crawler.storage.archive import inboxes
    from crawler.storage.models import Country

    async with engines.reader.connect() as conn:
        ids = [int(r[0]) for r in (await conn.execute(select(Country.id))).all()]
    chosen = (await inboxes(engines, ids))[::ARRIVAL_EVERY]
    for inbox in chosen:
        post_json(f"{base_url}/__arrive__", {"number": inbox.number, "count": ARRIVALS})
    return len(chosen) * ARRIVALS


async def _crawl(args: dict[str, Any]) -> None:
    from crawler.crawl import crawl_pass
    from crawler.storage.db import open_archive

    base_url: str = args["base_url"]
    config = bench_config(base_url, args["database"], int(args["concurrency"]))
    async with open_archive(args["database"]) as engines:
        for name in ("full", "repeat", "arrivals"):
            arrived = await _arrive(engines, base_url) if name == "arrivals" else 0
            get_json(f"{base_url}/__requests__/reset", post=True)
            emit({"event": "start", "pass": name})
            wall, cpu = time.perf_counter(), time.process_time()
            report = await crawl_pass(engines, config)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            counts = get_json(f"{base_url}/__requests__")
            emit({
                "event": "pass", "pass": name, "seconds": wall, "cpu_seconds": cpu,
                "inbox_pages": report.walk.pages, "refetches": report.walk.refetches,
                "inboxes": report.walk.inboxes, "new_messages": report.walk.new_messages,
                "arrived": arrived, "requests": report.requests, "errors": len(report.errors),
                "first_error": report.errors[0] if report.errors else None,
                "sim_requests": counts["total"], "sim_inbox_requests": counts["by_kind"]["inbox"],
                "peak_rss_mb": peak_rss_mb(),
            })  # fmt: skip


def _other_crawler(mode: str, args: dict[str, Any]) -> None:
    """One crawl by a comparison crawler: `baseline` (requests + BS4) or `scrapy`."""
    # Imported before the clock starts (Scrapy and Twisted take a while to import).
    if mode == "scrapy":
        from crawler.bench.scrapy_baseline import crawl as scrapy_crawl

        def run() -> dict[str, Any]:
            return scrapy_crawl(args["base_url"], args["path"], int(args["max_inboxes"]), int(args["concurrency"]))
    else:
        from crawler.bench.baseline import crawl

        def run() -> dict[str, Any]:
            return crawl(args["base_url"], args["path"], int(args["max_inboxes"]))

    emit({"event": "start", "pass": mode})
    cpu = time.process_time()
    result = run()
    emit({"event": "pass", "pass": mode, **result, "cpu_seconds": time.process_time() - cpu,
          "peak_rss_mb": peak_rss_mb()})  # fmt: skip


def main(argv: list[str]) -> None:
    mode, args = argv[0], json.loads(argv[1])
    if mode == "crawl":
        from crawler.cli import run_async  # uvloop when installed, as `crawler crawl` runs

        run_async(_crawl(args))
    elif mode in ("baseline", "scrapy"):
        _other_crawler(mode, args)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
