"""Runs every measurement of `crawler bench` and formats the result."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from crawler.bench import micro
from crawler.bench.scenarios import Scenario
from crawler.bench.simproc import SimProcess, simulator
from crawler.storage.db import open_archive

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    scenario: Scenario
    database_url: str | None = None  # None: fresh SQLite files in a temporary directory
    baseline: bool = False
    scrapy: bool = False  # also crawl with a Scrapy spider + sqlite3 pipeline (crawler.bench.scrapy_baseline)


def _quiet(_msg: str) -> None:
    return None


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return {
        "cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}", "event_loop": loop,
    }  # fmt: skip


def _run_child(mode: str, args: dict[str, Any], sim: SimProcess) -> dict[str, dict[str, Any]]:
    """Run a child; returns each pass's result with the simulator's CPU% during it."""
    cmd = [sys.executable, "-m", "crawler.bench.child", mode, json.dumps(args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    results: dict[str, dict[str, Any]] = {}
    started: tuple[float, float | None] = (time.perf_counter(), None)
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "start":
            started = (time.perf_counter(), sim.cpu())
        else:
            wall = time.perf_counter() - started[0]
            cpu_now, cpu_then = sim.cpu(), started[1]
            if cpu_now is not None and cpu_then is not None and wall > 0:
                event["sim_cpu_percent"] = 100 * (cpu_now - cpu_then) / wall
            results[event["pass"]] = event
    _, err = proc.communicate()
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise RuntimeError(f"the {mode} child failed: {lines[-1] if lines else proc.returncode}")
    return results


def _crawl_figures(full: dict[str, Any]) -> dict[str, Any]:
    pages, secs = full["inbox_pages"], full["seconds"]
    return {
        "inbox_pages": pages, "refetches": full["refetches"], "inboxes": full["inboxes"],
        "messages": full["new_messages"], "requests": full["requests"], "errors": full["errors"],
        "first_error": full["first_error"], "seconds": secs,
        "pages_per_second": pages / secs, "messages_per_second": full["new_messages"] / secs,
        "cpu_ms_per_page": 1000 * full["cpu_seconds"] / max(1, pages),
        "crawler_cpu_percent": 100 * full["cpu_seconds"] / secs,
        "sim_cpu_percent": full.get("sim_cpu_percent"), "peak_rss_mb": full["peak_rss_mb"],
    }  # fmt: skip


def _repeat_figures(rep: dict[str, Any]) -> dict[str, Any]:
    inboxes = max(1, rep["inboxes"])
    new = rep["new_messages"]
    return {
        "inboxes": rep["inboxes"], "inbox_requests": rep["sim_inbox_requests"],
        "requests": rep["sim_requests"], "new_messages": new, "arrived": rep["arrived"],
        "requests_per_inbox": rep["sim_inbox_requests"] / inboxes,
        "requests_per_new_message": rep["sim_requests"] / new if new else None,
        "seconds": rep["seconds"], "cpu_ms_per_inbox": 1000 * rep["cpu_seconds"] / inboxes,
    }  # fmt: skip


async def _db_steps(opts: BenchOptions, workdir: Path, progress: Progress) -> dict[str, Any]:
    s = opts.scenario
    out: dict[str, Any] = {}
    url = opts.database_url or f"sqlite+aiosqlite:///{workdir / 'storage.db'}"
    progress(f"storage: {s.storage_rows:,} rows, batches of 100, 25% duplicates")
    async with open_archive(url) as engines:
        if opts.database_url:
            await micro.wipe(engines)
        out["storage"] = await micro.storage_rate(engines, s.storage_rows)
        if opts.database_url:
            await micro.wipe(engines)
    url = opts.database_url or f"sqlite+aiosqlite:///{workdir / 'archive.db'}"
    progress(f"archive of {s.archive_rows:,} messages: bulk insert")
    async with open_archive(url) as engines:
        start = time.perf_counter()
        numbers = await micro.build_archive(engines, s.archive_rows)
        out["archive"] = {"rows": s.archive_rows, "inboxes": len(numbers), "build_seconds": time.perf_counter() - start}
        progress("get_messages query, page 1")
        out["query"] = {**await micro.query_ms(engines, numbers), "archive_rows": s.archive_rows}
        progress(f"export of {min(s.export_rows, s.archive_rows):,} rows")
        out["export"] = await micro.export_rate(engines, numbers, s.export_rows)
        if opts.database_url:
            await micro.wipe(engines)
    return out


def run_bench(opts: BenchOptions, progress: Progress = _quiet) -> dict[str, Any]:
    from crawler.cli import run_async

    s = opts.scenario
    s.check()
    results: dict[str, Any] = {"machine": machine(), "scenario": asdict(s) | {"inbox_pages": s.inbox_pages}}
    if opts.database_url:
        results["database"] = opts.database_url.split("://", 1)[0]

        async def empty() -> bool:
            async with open_archive(str(opts.database_url)) as engines:
                return await micro.is_empty(engines)

        if not run_async(empty()):
            raise ValueError("--database must name an empty archive: the benchmark fills it and empties it again")
    else:
        results["database"] = "sqlite"
    with tempfile.TemporaryDirectory(prefix="crawler-bench-") as tmp:
        workdir = Path(tmp)
        progress(f"simulator: {s.countries} countries x {s.numbers_per_country} numbers x {s.messages_per_number} messages")
        with simulator(s) as sim:
            crawl_url = opts.database_url or f"sqlite+aiosqlite:///{workdir / 'crawl.db'}"
            progress(f"crawl: ~{s.inbox_pages:,} inbox pages, concurrency {s.concurrency}")
            passes = _run_child("crawl", {"base_url": sim.base_url, "database": crawl_url, "concurrency": s.concurrency}, sim)
            results["crawl"] = _crawl_figures(passes["full"])
            results["repeat"] = _repeat_figures(passes["repeat"])
            results["arrivals"] = _repeat_figures(passes["arrivals"])
            if opts.database_url:
                run_async(_wipe_url(opts.database_url))
            progress(f"parser: {s.parser_pages:,} inbox pages")
            inbox_urls = run_async(_inbox_urls(crawl_url)) if not opts.database_url else _site_inboxes(sim)
            pages = micro.fetch_inbox_pages(sim.base_url, inbox_urls, s.parser_pages)
            rate, rows = micro.parser_rate(pages)
            results["parser"] = {"pages_per_second": rate, "pages": len(pages), "messages_per_page": rows}
            if opts.baseline:
                progress("baseline: requests + BeautifulSoup + sqlite3, sequential")
                base = _run_child(
                    "baseline",
                    {"base_url": sim.base_url, "path": str(workdir / "baseline.db"), "max_inboxes": s.baseline_inboxes},
                    sim,
                )["baseline"]
                results["baseline"] = _baseline_figures(base)
            if opts.scrapy:
                # Every inbox (max_inboxes 0), as the full crawl: the same work, RSS included.
                progress(f"scrapy: Scrapy spider + sqlite3 pipeline, concurrency {s.concurrency}")
                args = {
                    "base_url": sim.base_url, "path": str(workdir / "scrapy.db"), "max_inboxes": 0,
                    "concurrency": s.concurrency,
                }  # fmt: skip
                spider = _run_child("scrapy", args, sim)["scrapy"]
                results["scrapy"] = _baseline_figures(spider) | {
                    "version": spider["version"], "concurrency": s.concurrency, "errors": spider["errors"],
                }  # fmt: skip
        results.update(run_async(_db_steps(opts, workdir, progress)))
    if "baseline" in results:
        results["ratios"] = _ratios(results["crawl"], results["baseline"])
    if "scrapy" in results:
        results["scrapy_ratios"] = _ratios(results["crawl"], results["scrapy"])
    return results


def _ratios(c: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Our full crawl's figures over another crawl's (pages/s: higher is better for us)."""
    return {
        "pages_per_second": c["pages_per_second"] / b["pages_per_second"],
        "cpu_ms_per_page": c["cpu_ms_per_page"] / b["cpu_ms_per_page"],
        "peak_rss_mb": c["peak_rss_mb"] / b["peak_rss_mb"],
    }


def _baseline_figures(b: dict[str, Any]) -> dict[str, Any]:
    pages = max(1, b["inbox_pages"])
    return {
        "inbox_pages": b["inbox_pages"], "inboxes": b["inboxes"], "messages": b["messages"],
        "seconds": b["inbox_seconds"], "pages_per_second": b["inbox_pages"] / b["inbox_seconds"],
        "cpu_ms_per_page": 1000 * b["cpu_seconds"] / pages, "peak_rss_mb": b["peak_rss_mb"],
        "sim_cpu_percent": b.get("sim_cpu_percent"),
    }  # fmt: skip


async def _inbox_urls(url: str) -> list[str]:
    from sqlalchemy import select

    from crawler.storage.models import Number

    async with open_archive(url) as engines, engines.reader.connect() as conn:
        rows = (await conn.execute(select(Number.inbox_url).order_by(Number.id))).all()
    return [str(r[0]) for r in rows]


def _site_inboxes(sim: SimProcess) -> list[str]:
    from crawler.bench.simproc import get_json

    truth = get_json(f"{sim.base_url}/__truth__", timeout=300)
    return [str(n["inbox_url"]) for n in truth["numbers"]]


async def _wipe_url(url: str) -> None:
    async with open_archive(url) as engines:
        await micro.wipe(engines)


# --------------------------------------------------------------------------- output
def _f(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def format_table(r: dict[str, Any]) -> str:
    m, s, c = r["machine"], r["scenario"], r["crawl"]
    rep, arr = r["repeat"], r["arrivals"]
    against = [(r[k], name) for k, name in (("ratios", "baseline"), ("scrapy_ratios", "scrapy")) if k in r]

    def ratio(key: str) -> str:
        shown = ", ".join(f"{ratios[key]:.1f}x {name}" for ratios, name in against if key in ratios)
        return f"  ({shown})" if shown else ""

    lines = [
        f"crawler bench: size {s['name']}, {s['countries']} countries x {s['numbers_per_country']} numbers x "
        f"{s['messages_per_number']} messages, concurrency {s['concurrency']}, database {r['database']}",
        f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['event_loop']}",
        "",
        f"{'measure':<44} {'value':>14}",
        f"{'-' * 44} {'-' * 14}",
        f"{'full crawl: inbox pages':<44} {_f(c['inbox_pages']):>14}   ({_f(c['refetches'])} consistency re-reads, {c['errors']} errors)",
        f"{'full crawl: inbox pages/s':<44} {_f(c['pages_per_second']):>14}{ratio('pages_per_second')}",
        f"{'full crawl: messages/s':<44} {_f(c['messages_per_second']):>14}",
        f"{'full crawl: CPU ms per page':<44} {_f(c['cpu_ms_per_page'], 3):>14}{ratio('cpu_ms_per_page')}",
        f"{'full crawl: peak RSS MB':<44} {_f(c['peak_rss_mb'], 1):>14}{ratio('peak_rss_mb')}",
        f"{'full crawl: crawler CPU % / simulator CPU %':<44} {_f(c['crawler_cpu_percent']) + ' / ' + _f(c['sim_cpu_percent']):>14}",
        f"{'repeat pass: requests per inbox':<44} {_f(rep['requests_per_inbox'], 3):>14}   ({rep['inbox_requests']} inbox requests, {rep['inboxes']} inboxes, {rep['new_messages']} new)",
        f"{'repeat pass: CPU ms per inbox':<44} {_f(rep['cpu_ms_per_inbox'], 3):>14}",
        f"{'after arrivals: requests per inbox':<44} {_f(arr['requests_per_inbox'], 3):>14}",
        f"{'after arrivals: requests per new message':<44} {_f(arr['requests_per_new_message'], 2):>14}   ({arr['new_messages']} of {arr['arrived']} arrived found, {arr['requests']} requests)",
        f"{'parser alone: inbox pages/s (one core)':<44} {_f(r['parser']['pages_per_second']):>14}",
        f"{'storage alone: upsert rows/s':<44} {_f(r['storage']['rows_per_second']):>14}   (batches of {r['storage']['batch']}, 25% duplicates)",
        *(
            [f"{'storage alone: search index catch-up rows/s':<44} {_f(r['storage']['index_rows_per_second']):>14}   (SQLite: indexed in bulk behind the writes)"]
            if r["storage"].get("index_rows_per_second") else []
        ),
        f"{'export: rows/s':<44} {_f(r['export']['rows_per_second']):>14}   ({_f(r['export']['rows'])} rows, CSV)",
        f"{'get_messages page 1: ms (median / p95)':<44} {_f(r['query']['median_ms'], 2) + ' / ' + _f(r['query']['p95_ms'], 2):>14}   (archive of {_f(r['query']['archive_rows'])} messages)",
    ]  # fmt: skip
    if "baseline" in r:
        b = r["baseline"]
        lines += [
            "",
            f"baseline (requests + BeautifulSoup + sqlite3, sequential, {b['inboxes']} inboxes): "
            f"{_f(b['pages_per_second'])} inbox pages/s, {_f(b['cpu_ms_per_page'], 3)} CPU ms per page, "
            f"{_f(b['peak_rss_mb'], 1)} MB peak RSS",
        ]
    if "scrapy" in r:
        sp = r["scrapy"]
        lines += [
            *([] if "baseline" in r else [""]),
            f"scrapy (Scrapy {sp['version']} spider + sqlite3 pipeline, concurrency {sp['concurrency']}, "
            f"{sp['inboxes']} inboxes): {_f(sp['pages_per_second'])} inbox pages/s, "
            f"{_f(sp['cpu_ms_per_page'], 3)} CPU ms per page, {_f(sp['peak_rss_mb'], 1)} MB peak RSS",
        ]
    return "\n".join(lines)
