"""The fetcher against a real aiohttp server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crawler.config import HttpConfig
from crawler.errors import ConfigError, FetchError
from crawler.fetcher import Fetcher, parse_retry_after, site_time

FAST = HttpConfig(requests_per_second=0.0, max_retries=3, timeout_seconds=2.0, obey_robots=True)


@pytest.fixture
async def server() -> AsyncIterator[Callable[[web.Application], TestServer]]:
    started: list[TestServer] = []

    def make(app: web.Application) -> TestServer:
        srv = TestServer(app, host="127.0.0.1")
        started.append(srv)
        return srv

    yield make
    for srv in started:
        await srv.close()


async def _start(make: Callable[[web.Application], TestServer], routes: web.RouteTableDef) -> str:
    app = web.Application()
    app.add_routes(routes)
    srv = make(app)
    await srv.start_server()
    return f"http://127.0.0.1:{srv.port}"


async def test_retries_503_then_succeeds_and_counts(server) -> None:
    calls = {"n": 0}
    routes = web.RouteTableDef()

    @routes.get("/page")
    async def page(_: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return web.Response(status=503)
        return web.Response(text="ok", headers={"Date": "Wed, 02 Dec 2026 10:00:00 GMT", "Age": "30"})

    base = await _start(server, routes)
    async with Fetcher(FAST) as f:
        resp = await f.get(f"{base}/page")
    assert resp.status == 200 and resp.body == b"ok" and resp.attempts == 3
    assert f.stats.retries == 2
    # the site's clock: Date minus Age
    assert resp.fetched_at == datetime(2026, 12, 2, 9, 59, 30, tzinfo=UTC) and resp.site_clock


async def test_429_retry_after_is_obeyed(server) -> None:
    seen: list[float] = []
    routes = web.RouteTableDef()

    @routes.get("/x")
    async def x(_: web.Request) -> web.Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(text="fine")

    base = await _start(server, routes)
    async with Fetcher(FAST) as f:
        resp = await f.get(f"{base}/x")
    assert resp.status == 200
    assert seen[1] - seen[0] >= 0.95


async def test_gives_up_after_max_retries_with_one_line_error(server) -> None:
    routes = web.RouteTableDef()

    @routes.get("/down")
    async def down(_: web.Request) -> web.Response:
        return web.Response(status=500)

    base = await _start(server, routes)
    cfg = dataclasses.replace(FAST, max_retries=1)
    async with Fetcher(cfg) as f:
        resp = await f.get(f"{base}/down")
    assert resp.status == 500 and resp.attempts == 2  # returned as is after the last retry


async def test_connection_refused_is_a_fetch_error() -> None:
    cfg = dataclasses.replace(FAST, max_retries=1, obey_robots=False)
    async with Fetcher(cfg) as f:
        with pytest.raises(FetchError) as err:
            await f.get("http://127.0.0.1:9/nothing")
    assert "cannot connect" in str(err.value) and "\n" not in str(err.value)


async def test_size_cap_refuses_huge_pages(server) -> None:
    routes = web.RouteTableDef()

    @routes.get("/huge")
    async def huge(_: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(_)
        for _i in range(40):
            await resp.write(b"x" * 65536)
        return resp

    base = await _start(server, routes)
    cfg = dataclasses.replace(FAST, max_page_bytes=100_000, max_retries=3)
    async with Fetcher(cfg) as f:
        with pytest.raises(FetchError) as err:
            await f.get(f"{base}/huge")
    assert "max_page_bytes" in str(err.value)


async def test_robots_txt_is_obeyed(server) -> None:
    routes = web.RouteTableDef()

    @routes.get("/robots.txt")
    async def robots(_: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private\n")

    @routes.get("/private/a")
    async def private(_: web.Request) -> web.Response:
        return web.Response(text="secret")

    @routes.get("/public")
    async def public(_: web.Request) -> web.Response:
        return web.Response(text="hello")

    base = await _start(server, routes)
    async with Fetcher(FAST) as f:
        assert (await f.get(f"{base}/public")).body == b"hello"
        with pytest.raises(FetchError) as err:
            await f.get(f"{base}/private/a")
    assert "robots.txt" in str(err.value)


async def test_cookies_file_is_sent_and_user_agent_is_honest(server, tmp_path: Path) -> None:
    got: dict[str, str] = {}
    routes = web.RouteTableDef()

    @routes.get("/me")
    async def me(request: web.Request) -> web.Response:
        got["cookie"] = request.cookies.get("smstome_session", "")
        got["ua"] = request.headers.get("User-Agent", "")
        return web.Response(text="ok")

    base = await _start(server, routes)
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsmstome_session\tabc123\n")
    async with Fetcher(dataclasses.replace(FAST, cookies_file=str(cookies))) as f:
        await f.get(f"{base}/me")
    assert got["cookie"] == "abc123"
    assert got["ua"].startswith("crawler/") and "<version>" not in got["ua"]


async def test_bad_cookies_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "c.txt"
    bad.write_text("not a cookie file")
    with pytest.raises(ConfigError):
        async with Fetcher(dataclasses.replace(FAST, cookies_file=str(bad))):
            pass
    with pytest.raises(ConfigError):
        async with Fetcher(dataclasses.replace(FAST, cookies_file=str(tmp_path / "missing.txt"))):
            pass


def test_retry_after_and_date_parsing() -> None:
    now = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 02 Dec 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("999999") == 900.0
    assert site_time({"Date": "garbage"}) is None
    assert site_time({}) is None
