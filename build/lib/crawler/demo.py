"""`crawler demo`: the offline tour. Simulated site -> fresh SQLite file -> what was archived."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from crawler.cli import run_async
from crawler.config import Config
from crawler.crawl import CrawlReport, crawl_pass
from crawler.sim import SimOptions, running_simulator
from crawler.storage.db import open_archive
from crawler.terminal import printable


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _crawl_simulated(config: Config, db_url: str, seed: int) -> tuple[CrawlReport, str]:
    options = SimOptions(seed=seed, countries=3, numbers_per_country=6)
    async with running_simulator(options) as sim:
        base_url = sim.base_url
        assert base_url is not None  # set once the server listens
        cfg = config.replace(
            site=dataclasses.replace(config.site, base_url=base_url, countries=()),
            database=dataclasses.replace(config.database, url=db_url),
            http=dataclasses.replace(config.http, requests_per_second=0.0, concurrency=4, cookies_file=""),
        )
        async with open_archive(db_url) as engines:
            return await crawl_pass(engines, cfg), base_url


def run_demo(config: Config, database_file: Path, seed: int) -> str:
    database_file = database_file.resolve()
    _fresh(database_file)
    db_url = f"sqlite+aiosqlite:///{database_file}"
    report, base_url = run_async(_crawl_simulated(config, db_url, seed))
    con = sqlite3.connect(database_file)
    try:
        per_country = con.execute(
            "SELECT country, COUNT(DISTINCT number), COUNT(*) FROM message_history GROUP BY country ORDER BY country"
        ).fetchall()
        latest = con.execute(
            "SELECT number, sender, received_text, message FROM message_history "
            "ORDER BY received_at DESC LIMIT 5"
        ).fetchall()
        busiest = con.execute(
            "SELECT number FROM message_history GROUP BY number ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    lines = [
        f"Simulated smstome.com at {base_url} (seed {seed}), crawled into {database_file}",
        f"  {report.requests} requests, {report.new_numbers} numbers, {report.walk.new_messages} messages "
        f"in {((report.finished_at or report.started_at) - report.started_at).total_seconds():.1f} s",
        "",
        "Per country (numbers with messages, messages):",
    ]
    lines += [f"  {c:<16} {n:>4} {m:>6}" for c, n, m in per_country]
    lines += ["", "Latest messages:"]
    lines += [
        f"  +{num}  {printable(sender, 14):<14} {printable(text, 16):<16} {printable(body, 60)}"
        for num, sender, text, body in latest
    ]
    db = database_file.name
    lines += [
        "",
        "Query it yourself:",
        f'  sqlite3 {db} "SELECT number, sender, received_at, message FROM message_history '
        'ORDER BY received_at DESC LIMIT 10"',
    ]
    if busiest:
        lines.append(f"  crawler --database sqlite+aiosqlite:///{db} messages +{busiest[0]}")
        lines.append(f"  crawler --database sqlite+aiosqlite:///{db} export +{busiest[0]} -o history.csv")
    return "\n".join(lines)
