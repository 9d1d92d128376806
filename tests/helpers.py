"""Helpers shared by the tests (importable: `from .helpers import ...`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from crawler.config import Config, HttpConfig


def make_config(base_url: str, db_url: str, **http: Any) -> Config:
    """Full speed, no robots delay, few retries: what tests and the demo use."""
    cfg = Config()
    options = {"requests_per_second": 0.0, "concurrency": 4, "max_retries": 4, "timeout_seconds": 5.0}
    options.update(http)
    return cfg.replace(
        site=dataclasses.replace(cfg.site, base_url=base_url),
        database=dataclasses.replace(cfg.database, url=db_url),
        http=dataclasses.replace(HttpConfig(), **options),
    )


def archived(db_path: Path) -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    """number -> [(sender, body, min, max)] newest first, read with plain sqlite3."""
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT number, sender, message, received_at_min, received_at_max FROM message_history "
            "ORDER BY number, seq DESC"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str, str | None, str | None]]] = {}
    for number, sender, body, lo, hi in rows:
        out.setdefault(number, []).append((sender, body, lo, hi))
    return out


def assert_archive_equals_truth(db_path: Path, truth: dict[str, Any]) -> int:
    """Every readable inbox archived exactly: same rows in the same order, times inside bounds."""
    got = archived(db_path)
    checked = 0
    for entry in truth["numbers"]:
        if entry["gated"]:
            assert entry["number"] not in got, f"gated inbox {entry['number']} archived rows"
            continue
        want = entry["messages"]
        have = got.get(entry["number"], [])
        got_rows = [(s, b) for s, b, _, _ in have]
        want_rows = [(m["sender"], m["body"]) for m in want]
        assert got_rows == want_rows, _first_difference(entry["number"], got_rows, want_rows)
        for (_, _, lo, hi), m in zip(have, want, strict=True):
            true = datetime.fromisoformat(m["received_at"])
            assert lo is not None and hi is not None, m
            assert datetime.fromisoformat(lo) <= true <= datetime.fromisoformat(hi), (m, lo, hi)
        checked += len(want)
    return checked


def _first_difference(number: str, got: list[tuple[str, str]], want: list[tuple[str, str]]) -> str:
    i = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    return (
        f"inbox {number}: archived {len(got)} rows, site has {len(want)}; first difference at row {i} "
        f"(newest first): archived {got[i:i + 3]!r}, site {want[i:i + 3]!r}"
    )


@contextlib.asynccontextmanager
async def throwaway_postgres(prefix: str = "crawler_test") -> AsyncIterator[str]:
    """A fresh PostgreSQL database on TEST_PG_URL's server, dropped afterwards.

    Skips the test when TEST_PG_URL is unset, except on CI (CI=true), where it fails:
    a CI run that silently tested only SQLite would be a lie.
    """
    admin_url = os.environ.get("TEST_PG_URL")
    if not admin_url:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_PG_URL is not set on CI")
        pytest.skip("TEST_PG_URL not set (PostgreSQL tests)")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def archived_rows(url: str) -> dict[str, list[tuple[str, str, datetime | None, datetime | None]]]:
    """number -> [(sender, body, min, max)] newest first, through SQLAlchemy (any backend)."""
    from crawler.storage.db import open_archive

    out: dict[str, list[tuple[str, str, datetime | None, datetime | None]]] = {}
    async with open_archive(url) as engines, engines.reader.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT number, sender, message, received_at_min, received_at_max FROM message_history "
                "ORDER BY number, seq DESC"
            )
        )
        for number, sender, body, lo, hi in rows.all():
            out.setdefault(number, []).append((sender, body, _when(lo), _when(hi)))
    return out


def _when(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def assert_archive_matches(url: str, truth: dict[str, Any]) -> int:
    """`assert_archive_equals_truth` for any backend."""
    got = await archived_rows(url)
    checked = 0
    for entry in truth["numbers"]:
        if entry["gated"]:
            assert entry["number"] not in got, f"gated inbox {entry['number']} archived rows"
            continue
        have = got.get(entry["number"], [])
        got_rows = [(s, b) for s, b, _, _ in have]
        want_rows = [(m["sender"], m["body"]) for m in entry["messages"]]
        assert got_rows == want_rows, _first_difference(entry["number"], got_rows, want_rows)
        for (_, _, lo, hi), m in zip(have, entry["messages"], strict=True):
            true = datetime.fromisoformat(m["received_at"])
            assert lo is not None and hi is not None and lo <= true <= hi, (m, lo, hi)
        checked += len(want_rows)
    return checked


async def feed_arrivals(sim: Any, numbers: list[str], rng: Any, pause: tuple[float, float] = (0.05, 0.25)) -> None:
    """Messages keep arriving (with exact repeats) until the task is cancelled."""
    import asyncio

    while True:
        await asyncio.sleep(rng.uniform(*pause))
        sim.add_messages(rng.choice(numbers), rng.randint(1, 3), repeat_ratio=0.5)


async def settle(sim: Any, url: str, patience: float = 60.0) -> None:
    """Wait until the archive at `url` equals the simulator's truth (a daemon keeps polling)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            await assert_archive_matches(url, sim.truth())
            return
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.5)


async def run_alembic(url: str, step: Callable[[Any], None]) -> None:
    """Run one alembic command (`step(cfg)`) on `url` through an injected connection, as
    `crawler.storage.db.migrate_to_head` does (env.py's in-loop path)."""
    from crawler.storage.db import alembic_config, create_engines

    engines = create_engines(url)
    try:
        async with engines.writer.connect() as conn:
            cfg = alembic_config(url)

            def go(sync: Any) -> None:
                cfg.attributes["connection"] = sync
                step(cfg)

            await conn.run_sync(go)
            await conn.commit()
    finally:
        await engines.dispose()


async def spawn_crawler(*args: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """`python -m crawler ARGS` as a user runs it, stdout and stderr piped (`kwargs`: env, cwd)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, **kwargs
    )


@contextlib.asynccontextmanager
async def one_inbox_site(
    number: str, inbox_path: str, inbox: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[str]:
    """A hand-driven site on 127.0.0.1 for what the simulator cannot stage: a home page
    listing Finland, its listing with the one `number`, whose inbox at `inbox_path` is
    answered by `inbox`. Yields the base URL."""
    routes = web.RouteTableDef()

    @routes.get("/")
    async def home(_: web.Request) -> web.Response:
        return web.Response(
            text="<html><body><div class='column fields'><ul><li><a href='/country/finland'>Finland<small>+358</small></a></li></ul></div></body></html>",
            content_type="text/html",
        )

    @routes.get("/country/finland")
    async def country(_: web.Request) -> web.Response:
        card = (
            "<div class='column numview'><div class='row'><div><small>Espoo</small></div></div>"
            "<div class='row'><small>Added 2 days ago</small></div>"
            f"<div class='row'><a class='button numbutton' href='{inbox_path}'>+{number}</a></div></div>"
        )
        return web.Response(
            text=f"<html><body><section class='container'><h1 class='title'>Finland phone numbers</h1><div class='column'><div class='row'>{card}</div></div></section></body></html>",
            content_type="text/html",
        )

    routes.get(inbox_path)(inbox)
    app = web.Application()
    app.add_routes(routes)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()
