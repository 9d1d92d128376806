"""Fault suite: real HTTP on 127.0.0.1 against the simulator, real SQLite files.

Every test ends with the archive equal to the site for everything not gated; faults that
exhaust the retries are followed by one clean pass that must repair everything. In between,
`assert_no_wrong_rows` checks that a faulty pass never stored anything the site does not
hold: every inbox holds either nothing or exactly the site's oldest rows.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import crawler.crawl
import crawler.inbox
from crawler.crawl import CrawlReport, crawl_pass
from crawler.sim import SimOptions, Simulator, running_simulator
from crawler.storage.db import open_archive

from .front import running_front
from .helpers import archived, assert_archive_equals_truth, make_config

OPTIONS = SimOptions(seed=5, countries=2, numbers_per_country=4, max_messages=25, frozen=True)


@pytest.fixture
async def small() -> AsyncIterator[Simulator]:
    async with running_simulator(OPTIONS) as s:
        yield s


@pytest.fixture(autouse=True)
def _short_challenge_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # A challenge is retried after 2 s, 4 s in production; the behaviour, not the wait, is tested.
    monkeypatch.setattr(crawler.inbox, "CHALLENGE_PAUSE", 0.01)  # every page kind reads through it


async def crawl(base: str, db_path: Path, progress: Any = None, **http: Any) -> CrawlReport:
    url = f"sqlite+aiosqlite:///{db_path}"
    http.setdefault("max_retries", 8)
    cfg = make_config(base, url, **http)
    async with open_archive(url) as engines:
        if progress is None:
            return await crawl_pass(engines, cfg)
        return await crawl_pass(engines, cfg, progress=progress)


def rows_of(db_path: Path) -> dict[str, list[tuple[str, str]]]:
    return {k: [(s, b) for s, b, _, _ in v] for k, v in archived(db_path).items()}


def assert_no_wrong_rows(db_path: Path, truth: dict[str, Any]) -> None:
    """Each inbox holds nothing, or the site's oldest rows in order: no invented, doubled or
    missing-in-the-middle rows, whatever the faults did."""
    got = rows_of(db_path)
    for entry in truth["numbers"]:
        have = got.get(entry["number"], [])
        want = [(m["sender"], m["body"]) for m in entry["messages"]]
        assert have == want[len(want) - len(have) :], f"inbox {entry['number']} holds rows the site does not"


def faults_hit(sim: Simulator) -> dict[str, int]:
    return dict(sim.request_counts()["by_fault"])


# --------------------------------------------------------------------------- transport faults


@pytest.mark.slow
async def test_429_storm_with_retry_after_is_obeyed(small: Simulator, tmp_path: Path) -> None:
    small.set_faults(rate_429=0.3, retry_after=1)
    started = time.monotonic()
    report = await crawl(small.base_url or "", tmp_path / "a.db")
    assert faults_hit(small).get("429", 0) >= 3
    assert report.retries >= faults_hit(small)["429"] - 1  # (robots.txt retries once only)
    assert time.monotonic() - started >= 1.0  # at least one Retry-After: 1 was slept
    assert not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


async def test_429_without_retry_after_backs_off(small: Simulator, tmp_path: Path) -> None:
    small.set_faults(rate_429=0.3, retry_after=0)
    report = await crawl(small.base_url or "", tmp_path / "a.db")
    assert faults_hit(small).get("429", 0) >= 3 and not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


async def test_429_storm_exhausting_retries_is_reported_then_repaired(small: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    await crawl(small.base_url or "", db)
    for n in small.truth()["numbers"]:
        small.add_messages(n["number"], 3, repeat_ratio=0.5)
    small.set_faults(rate_429=1.0, retry_after=0)
    report = await crawl(small.base_url or "", db, max_retries=1)
    assert not report.readable and report.errors
    assert any("429" in e for e in report.errors), report.errors
    assert_no_wrong_rows(db, small.truth())
    small.set_faults()
    report = await crawl(small.base_url or "", db)
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())


async def test_5xx_and_connection_resets_are_retried(small: Simulator, tmp_path: Path) -> None:
    small.set_faults(rate_5xx=0.25, rate_drop=0.3)
    report = await crawl(small.base_url or "", tmp_path / "a.db")
    hit = faults_hit(small)
    assert hit.get("5xx", 0) >= 1 and hit.get("drop", 0) >= 1, hit
    assert not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


async def test_stalls_mid_body_time_out_and_are_retried(small: Simulator, tmp_path: Path) -> None:
    small.set_faults(rate_stall=0.15, stall_seconds=10)
    report = await crawl(small.base_url or "", tmp_path / "a.db", timeout_seconds=1.0)
    assert faults_hit(small).get("stall", 0) >= 1
    assert not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


async def test_truncated_bodies_are_retried(small: Simulator, tmp_path: Path) -> None:
    small.set_faults(rate_truncate=0.3)
    report = await crawl(small.base_url or "", tmp_path / "a.db")
    assert faults_hit(small).get("truncate", 0) >= 3
    assert not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


async def test_challenges_and_content_faults_store_nothing_wrong(small: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    small.set_faults(rate_challenge=0.3, rate_sse_blank=0.3, rate_junk=0.5, rate_404_content=0.3)
    report = await crawl(small.base_url or "", db)
    hit = faults_hit(small)
    assert hit.get("challenge", 0) >= 3 and hit.get("sse_blank", 0) >= 1, hit
    assert report.challenged_pages >= 1
    assert_no_wrong_rows(db, small.truth())
    small.set_faults()
    report = await crawl(small.base_url or "", db)
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())


# --------------------------------------------------------------------------- redirects, size cap


async def test_redirects_to_the_same_host_are_followed(small: Simulator, tmp_path: Path) -> None:
    upstream = small.base_url or ""
    redirected = {"n": 0}

    async def redirect(request: web.Request) -> web.StreamResponse | None:
        redirected["n"] += 1
        raise web.HTTPMovedPermanently(upstream + request.path_qs)  # like http:// -> https://

    async with running_front(upstream, redirect) as front:
        report = await crawl(front, tmp_path / "a.db")
    assert redirected["n"] >= 3
    assert not report.errors, report.errors
    assert_archive_equals_truth(tmp_path / "a.db", small.truth())


@pytest.mark.parametrize("listing", [True, False], ids=["listing-and-inboxes", "inboxes-only"])
async def test_redirect_to_sign_in_is_never_stored_as_empty(small: Simulator, tmp_path: Path, listing: bool) -> None:
    db = tmp_path / "a.db"
    truth = small.truth()
    walled = truth["countries"][0]["slug"]
    wall = {"on": False}

    async def sign_in(request: web.Request) -> web.StreamResponse | None:
        hit = request.path.startswith(f"/{walled}/") or (listing and request.path.startswith(f"/country/{walled}"))
        if wall["on"] and hit:
            raise web.HTTPFound("/sign-in")
        return None

    async with running_front(small.base_url or "", sign_in) as front:
        await crawl(front, db)
        assert_archive_equals_truth(db, small.truth())
        before = rows_of(db)
        for n in truth["numbers"]:
            small.add_messages(n["number"], 2)
        wall["on"] = True
        report = await crawl(front, db)
        after = rows_of(db)
        inside = {n["number"] for n in truth["numbers"] if n["country"] == walled}
        assert inside and all(after[k] == before[k] for k in inside), "the sign-in page changed an inbox"
        assert not report.errors, report.errors  # the sign-in page is the login wall: gated
        if listing:  # the country is skipped as a whole
            assert any(f"/country/{walled}" in u for u in report.unavailable["gated"]), report.unavailable
        else:
            assert report.gated_pages >= len(inside), report.unavailable
        outside = small.truth()
        for n in outside["numbers"]:
            n["gated"] = n["number"] in inside
        for n in outside["numbers"]:
            if n["gated"]:
                continue
            assert after[n["number"]] == [(m["sender"], m["body"]) for m in n["messages"]]
        wall["on"] = False
        report = await crawl(front, db)
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())


async def test_huge_pages_are_refused_and_the_pass_goes_on(small: Simulator, tmp_path: Path) -> None:
    truth = small.truth()
    with_rows = [n for n in truth["numbers"] if n["messages"]]
    big, bomb = (n["inbox_url"].split("://", 1)[1].split("/", 1)[1] for n in with_rows[:2])
    served: dict[str, int] = {"big": 0, "bomb": 0}

    async def huge(request: web.Request) -> web.StreamResponse | None:
        path = request.path.lstrip("/")
        if path == big:  # announced: refused from Content-Length alone
            served["big"] += 1
            return web.Response(body=b"<p>" + b"x" * (10 * 1024 * 1024), content_type="text/html")
        if path == bomb:  # chunked, no length: refused while reading
            served["bomb"] += 1
            resp = web.StreamResponse(headers={"Content-Type": "text/html"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                for _ in range(160):
                    await resp.write(b"y" * 65536)
            except (ConnectionError, RuntimeError):
                pass
            return resp
        return None

    async with running_front(small.base_url or "", huge) as front:
        report = await crawl(front, tmp_path / "a.db")
    assert served == {"big": 1, "bomb": 1}, served  # never retried: it will be as large again
    assert len(report.errors) == 2 and all("max_page_bytes" in e for e in report.errors), report.errors
    skipped = {with_rows[0]["number"], with_rows[1]["number"]}
    assert not skipped & set(rows_of(tmp_path / "a.db"))
    for n in truth["numbers"]:
        n["gated"] = n["number"] in skipped  # "not readable": nothing may be stored
    assert_archive_equals_truth(tmp_path / "a.db", truth)


# --------------------------------------------------------------------------- login wall


async def test_login_wall_between_and_during_passes(small: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    base = small.base_url or ""
    await crawl(base, db)
    a, b = (c["slug"] for c in small.truth()["countries"])
    numbers = [n["number"] for n in small.truth()["numbers"]]

    def arrivals() -> None:
        small.advance(120)
        for number in numbers:
            small.add_messages(number, 2, repeat_ratio=0.5)

    # Between passes: country a is walled off; b must be exact, a untouched.
    before = rows_of(db)
    arrivals()
    small.set_faults(gated=(a,))
    report = await crawl(base, db)
    assert report.gated_pages >= 1 and any(f"/country/{a}" in u for u in report.unavailable["gated"])
    after = rows_of(db)
    for n in small.truth()["numbers"]:
        if n["gated"]:
            assert after.get(n["number"]) == before.get(n["number"]), "a gated inbox changed"
        else:
            assert after[n["number"]] == [(m["sender"], m["body"]) for m in n["messages"]]

    # During a pass: the wall goes up over b after the first inbox was walked.
    small.set_faults()
    arrivals()
    walled = {"done": False}

    def progress(rep: CrawlReport, event: str) -> None:
        if event == "inbox" and not walled["done"]:
            walled["done"] = True
            small.set_faults(gated=(b,))

    report = await crawl(base, db, progress=progress, concurrency=1)
    assert walled["done"] and report.gated_pages >= 1
    small.set_faults()
    assert_no_wrong_rows(db, small.truth())
    report = await crawl(base, db)
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())


# --------------------------------------------------------------------------- the database

# Runs the real CLI with the SQLite busy timeout shortened and/or the database size capped
# (PRAGMA max_page_count on every connection): the way to hit "database is locked" and
# "database or disk is full" without waiting 30 s or filling a real disk.
CLI_WRAPPER = """
import os, sys
import crawler.storage.db as db
from sqlalchemy import event
from sqlalchemy.engine import Engine
if os.environ.get("TEST_BUSY_MS"):
    db.BUSY_TIMEOUT_MS = int(os.environ["TEST_BUSY_MS"])
if os.environ.get("TEST_MAX_PAGES"):
    @event.listens_for(Engine, "connect")
    def _cap(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA max_page_count=" + str(int(os.environ["TEST_MAX_PAGES"])))
        cur.close()
from crawler.cli import main
main(sys.argv[1:])
"""


async def run_cli(db: Path, *args: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI_WRAPPER, "--database", f"sqlite+aiosqlite:///{db}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


async def test_database_locked_for_a_while_the_crawl_waits(small: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    async with open_archive(f"sqlite+aiosqlite:///{db}"):
        pass  # created and migrated
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        task = asyncio.create_task(crawl(small.base_url or "", db))
        await asyncio.sleep(2.0)
        assert not task.done()
    finally:
        other.execute("ROLLBACK")
        other.close()
    report = await asyncio.wait_for(task, 60)
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())


@pytest.mark.slow
@pytest.mark.parametrize("when", ["before", "mid-crawl"])
async def test_database_locked_too_long_is_one_clear_error(small: Simulator, tmp_path: Path, when: str) -> None:
    db = tmp_path / "a.db"
    async with open_archive(f"sqlite+aiosqlite:///{db}"):
        pass
    other = sqlite3.connect(db, isolation_level=None, timeout=30)

    async def lock_on_first_inbox(request: web.Request) -> web.StreamResponse | None:
        if "/phone/" in request.path and not other.in_transaction:
            other.execute("BEGIN EXCLUSIVE")  # another process starts a long write
        return None

    if when == "before":
        other.execute("BEGIN EXCLUSIVE")
    try:
        async with running_front(small.base_url or "", lock_on_first_inbox) as front:
            code, _, err = await run_cli(db, "crawl", "--base-url", front, "--no-progress", TEST_BUSY_MS="300")
        assert other.in_transaction
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert code != 0
    lines = error_lines(err)
    assert len(lines) == 1 and "is locked by another process" in lines[0], err
    assert integrity(db) == "ok"
    assert_no_wrong_rows(db, small.truth())
    report = await crawl(small.base_url or "", db)
    assert not report.errors
    assert_archive_equals_truth(db, small.truth())


@pytest.mark.slow
async def test_disk_full_is_one_clear_error_and_the_next_pass_recovers(small: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    async with open_archive(f"sqlite+aiosqlite:///{db}"):
        pass
    con = sqlite3.connect(db)
    pages = int(con.execute("PRAGMA page_count").fetchone()[0])
    con.close()
    code, out, err = await run_cli(
        db, "crawl", "--base-url", small.base_url or "", "--no-progress", TEST_MAX_PAGES=str(pages + 3)
    )
    assert code != 0, out
    lines = error_lines(err)
    assert len(lines) == 1 and "full" in lines[0] and "internal error" not in lines[0], err
    assert integrity(db) == "ok"
    assert_no_wrong_rows(db, small.truth())
    report = await crawl(small.base_url or "", db)  # the limit lifted
    assert not report.errors, report.errors
    assert_archive_equals_truth(db, small.truth())
