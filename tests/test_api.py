"""The read API against a real SQLite archive: in-process (aiohttp test client) and as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler.api import create_app
from crawler.cli.serve import check_bind
from crawler.errors import ConfigError
from crawler.storage import archive as store
from crawler.storage.db import Engines, open_archive

from .archive_factory import T0, ArchiveFactory, Msg, simple
from .helpers import spawn_crawler

TOKEN = "s3cret-token"


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[Engines]:
    """UK: 45 numbers (one with 25 messages, one recycled); France: one number."""
    async with open_archive(db_url) as e:
        f = ArchiveFactory(e)
        uk = await f.country("united-kingdom", "United Kingdom", "44")
        fr = await f.country("france", "France", "33")
        for i in range(45):
            n = await f.number(uk, f"4477009{i:05d}", sms_id=100 + i, first_seen_at=T0 + timedelta(minutes=i))
            if i == 0:
                await f.messages(n, simple(25))
        old = await f.number(uk, "447700999999", sms_id=5, last_seen_at=T0)
        new = await f.number(uk, "447700999999", sms_id=9, last_seen_at=T0 + timedelta(days=2))
        await f.messages(old, [Msg("Old", "old inbox")])
        await f.messages(new, [Msg("New", "new inbox")])
        n = await f.number(fr, "33612345678", sms_id=7)
        await f.messages(n, [
            Msg("Google", "G-771204 is your Google verification code", T0 + timedelta(hours=1), code="771204", service="Google"),
            Msg("Evil", "<script>alert(1)</script> & \u202e bidi \"quoted\"", T0 + timedelta(hours=2)),
            Msg("Shop", "Your order 12345 shipped", None),
        ])  # fmt: skip
        yield e


@pytest.fixture
async def client(aiohttp_client: Any, engines: Engines) -> Any:
    return await aiohttp_client(create_app(engines))


async def get(client: Any, path: str, status: int = 200, **headers: str) -> dict[str, Any]:
    resp = await client.get(path, headers=headers)
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    body: dict[str, Any] = await resp.json()
    if status == 200:
        assert body["status"] == "success" and set(body) == {"status", "data"}
    else:
        assert body["status"] == "error" and set(body) == {"status", "error"}
    return body


async def test_list_countries(client: Any) -> None:
    data = (await get(client, "/list_countries"))["data"]
    assert data["total"] == 2
    uk = next(c for c in data["countries"] if c["slug"] == "united-kingdom")
    assert uk["name"] == "United Kingdom" and uk["url"].endswith("/country/united-kingdom")
    assert (uk["numbers"], uk["messages"]) == (47, 27)


async def test_list_phone_numbers_pagination(client: Any) -> None:
    pages = [(await get(client, f"/list_phone_numbers?country=united-kingdom&page={p}"))["data"] for p in (1, 2, 3, 4)]
    assert [len(p["numbers"]) for p in pages] == [20, 20, 7, 0]
    assert {p["total_pages"] for p in pages} == {3}
    first = pages[0]["numbers"][0]
    assert set(first) >= {"phone_number", "country_code", "added", "number", "sms_id", "sms_url"}
    assert first["phone_number"] == "+" + first["number"] and first["country_code"] == "44"
    seen = [n["first_seen_at"] for p in pages for n in p["numbers"]]
    assert seen == sorted(seen, reverse=True)  # newest first
    everything = (await get(client, "/list_phone_numbers"))["data"]
    assert everything["total"] == 48 and everything["page"] == 1


@pytest.mark.parametrize(("query", "status", "name"), [
    ("country=atlantis", 404, "country"),
    ("country=united-kingdom&page=0", 400, "page"),
    ("page=abc", 400, "page"),
    ("page=-1", 400, "page"),
    ("page=100001", 400, "page"),
    ("page=1.5", 400, "page"),
])  # fmt: skip
async def test_list_phone_numbers_errors(client: Any, query: str, status: int, name: str) -> None:
    body = await get(client, f"/list_phone_numbers?{query}", status)
    assert body["error"].startswith(f"{name}:")


async def test_get_messages_pages_newest_first(client: Any) -> None:
    pages = [(await get(client, f"/get_messages?number=%2B447700900000&page={p}"))["data"] for p in (1, 2, 3, 4)]
    bodies = [[m["message"] for m in p["messages"]] for p in pages]
    assert bodies[0] == [f"message {i}" for i in range(25, 15, -1)]
    assert bodies[2] == [f"message {i}" for i in range(5, 0, -1)]
    assert bodies[3] == [] and pages[3]["total_pages"] == 3 and pages[3]["page"] == 4
    m = pages[0]["messages"][0]
    assert set(m) >= {"from", "received", "message", "code", "service"}
    assert m["received"] == (T0 + timedelta(minutes=25)).isoformat()
    default = (await get(client, "/get_messages?number=447700900000"))["data"]
    assert default["page"] == 1 and default["messages"] == pages[0]["messages"]


async def test_get_messages_sms_id_country_and_codes(client: Any) -> None:
    latest = (await get(client, "/get_messages?number=447700999999"))["data"]
    assert latest["sms_id"] == 9 and latest["messages"][0]["message"] == "new inbox"
    old = (await get(client, "/get_messages?number=447700999999&sms_id=5"))["data"]
    assert old["messages"][0]["message"] == "old inbox"
    fr = (await get(client, "/get_messages?number=33612345678&country=france"))["data"]
    google = fr["messages"][-1]
    assert (google["code"], google["service"]) == ("771204", "Google")
    assert fr["messages"][0]["received"] == "1 hour ago"  # no parsed time: the site's text


@pytest.mark.parametrize(("query", "status", "name"), [
    ("", 400, "number"),
    ("number=", 400, "number"),
    ("number=abc", 400, "number"),
    ("number=447700900000&page=0", 400, "page"),
    ("number=447700900000&page=x", 400, "page"),
    ("number=447700900000&sms_id=x", 400, "sms_id"),
    ("number=447711111111", 404, "number"),
    ("number=447700999999&sms_id=6", 404, "number"),
    ("number=447700900000&country=france", 404, "number"),
    ("number=447700900000&country=atlantis", 404, "country"),
    ("number=" + "1" * 300, 400, "number"),
])  # fmt: skip
async def test_get_messages_errors(client: Any, query: str, status: int, name: str) -> None:
    body = await get(client, f"/get_messages?{query}", status)
    assert body["error"].startswith(f"{name}:"), body


async def test_search_archive_wide(client: Any) -> None:
    data = (await get(client, "/search_messages?query=MESSAGE%201&max_pages=1"))["data"]
    assert [r["message"] for r in data["results"]] == ["message 19", "message 18", "message 17", "message 16",
                                                       "message 15", "message 14", "message 13", "message 12",
                                                       "message 11", "message 10"]  # fmt: skip
    assert data["total_pages_available"] == 2 and data["pages_scanned"] == 1 and data["note"]
    second = (await get(client, "/search_messages?query=message%201&start_page=2"))["data"]
    assert [r["message"] for r in second["results"]] == ["message 1"]
    assert (await get(client, "/search_messages?query=message&start_page=99"))["data"]["results"] == []
    coded = (await get(client, "/search_messages?query=code&has_code=true"))["data"]["results"]
    assert [r["code"] for r in coded] == ["771204"] and coded[0]["number"] == "+33612345678"
    assert (await get(client, "/search_messages?query=is&service=google"))["data"]["results"][0]["from"] == "Google"
    fr = (await get(client, "/search_messages?query=e&country=france"))["data"]["results"]
    assert {r["country"] for r in fr} == {"france"} and len(fr) == 3
    window = f"since={(T0 + timedelta(minutes=90)).isoformat().replace('+', '%2B')}&until=2026-11-01T03:00:00Z"
    assert [r["from"] for r in (await get(client, f"/search_messages?query=e&{window}"))["data"]["results"]] == ["Evil"]


async def test_search_one_inbox_scans_pages(client: Any) -> None:
    data = (await get(client, "/search_messages?number=447700900000&query=message&start_page=2&max_pages=2"))["data"]
    assert [r["message"] for r in data["results"]] == [f"message {i}" for i in range(15, 0, -1)]
    assert {r["page"] for r in data["results"]} == {2, 3}
    assert data["pages_scanned"] == 2 and data["total_pages_available"] == 3
    only = (await get(client, "/search_messages?number=447700900000&query=MESSAGE%202&max_pages=1"))["data"]
    assert [r["message"] for r in only["results"]] == ["message 25", "message 24", "message 23", "message 22",
                                                       "message 21", "message 20"]  # fmt: skip
    past = (await get(client, "/search_messages?number=447700900000&query=message&start_page=9"))["data"]
    assert (past["results"], past["pages_scanned"]) == ([], 0)


@pytest.mark.parametrize(("query", "name"), [
    ("", "query"),
    ("query=%20%20", "query"),
    ("query=" + "x" * 201, "query"),
    ("query=x&max_pages=51", "max_pages"),
    ("query=x&max_pages=0", "max_pages"),
    ("query=x&start_page=0", "start_page"),
    ("query=x&start_page=100001", "start_page"),
    ("query=x&number=zz", "number"),
    ("query=x&sms_id=3", "sms_id"),
    ("query=x&has_code=maybe", "has_code"),
    ("query=x&since=yesterday", "since"),
])  # fmt: skip
async def test_search_errors(client: Any, query: str, name: str) -> None:
    body = await get(client, f"/search_messages?{query}", 400)
    assert body["error"].startswith(f"{name}:"), body


async def test_hostile_text_is_escaped_json(client: Any) -> None:
    resp = await client.get("/get_messages?number=33612345678")
    raw = await resp.text()
    assert "<script>" not in raw and "\\u003cscript\\u003e" in raw and "\\u0026" in raw
    assert json.loads(raw)["data"]["messages"][1]["message"].startswith("<script>alert(1)</script> & \u202e")


async def test_unknown_route_method_and_health(client: Any) -> None:
    assert (await get(client, "/nope", 404))["error"].startswith("no such endpoint")
    resp = await client.post("/list_countries")
    assert resp.status == 405 and (await resp.json())["status"] == "error"
    assert (await get(client, "/health"))["data"]["status"] == "ok"


async def test_internal_error_is_generic(aiohttp_client: Any, engines: Engines, db_path: Path) -> None:
    con = sqlite3.connect(db_path)
    con.execute("ALTER TABLE crawl_runs RENAME TO crawl_runs_gone")
    con.close()
    client = await aiohttp_client(create_app(engines))
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 500 and json.loads(text) == {"status": "error", "error": "internal error; the server log has the details"}
    assert "Traceback" not in text and "crawl_runs" not in text


async def test_metrics_parse_as_prometheus(client: Any, engines: Engines) -> None:
    run = await store.start_run(engines, "crawl", datetime.now(UTC))
    await store.finish_run(engines, run, datetime.now(UTC), "ok", requests=12, new_messages=5)
    await get(client, "/list_countries")
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    samples = {s.name + json.dumps(s.labels, sort_keys=True): s.value
               for fam in text_string_to_metric_families(await resp.text()) for s in fam.samples}  # fmt: skip
    assert samples["crawler_archive_messages{}"] == 30
    assert samples["crawler_archive_messages_with_code{}"] == 1
    assert samples["crawler_archive_numbers{}"] == 48 and samples["crawler_archive_countries{}"] == 2
    assert samples["crawler_archive_last_run_requests{}"] == 12
    assert samples["crawler_archive_recent_new_messages{}"] == 5
    assert samples["crawler_archive_last_run_finished_timestamp_seconds{}"] > 1.7e9
    assert samples['crawler_api_requests_total{"route": "/list_countries", "status": "200"}'] == 1


async def test_openapi_lists_every_route(client: Any) -> None:
    resp = await client.get("/openapi.json")
    spec = await resp.json()
    routes = {r.resource.canonical for r in client.server.app.router.routes() if r.resource is not None}
    assert spec["openapi"].startswith("3.") and set(spec["paths"]) == routes
    params = {p["name"] for p in spec["paths"]["/search_messages"]["get"]["parameters"]}
    assert params >= {"number", "sms_id", "country", "query", "start_page", "max_pages"}


async def test_token_required_when_set(aiohttp_client: Any, engines: Engines) -> None:
    client = await aiohttp_client(create_app(engines, token=TOKEN))
    assert (await get(client, "/list_countries", 401))["error"].startswith("Authorization:")
    await get(client, "/list_countries", 401, Authorization="Bearer wrong")
    await get(client, "/list_countries", 401, Authorization=TOKEN)
    await get(client, "/list_countries", 200, Authorization=f"Bearer {TOKEN}")
    await get(client, "/health")  # probes need no token
    assert "security" in await (await client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})).json()


def test_bind_rule() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        check_bind(host, "")
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(ConfigError, match="api.token"):
            check_bind(host, "")
        check_bind(host, TOKEN)


def _cli(db_url: str, *args: str) -> list[str]:
    return ["--database", db_url, *args]


async def test_serve_refuses_public_host_without_token(db_url: str) -> None:
    proc = await spawn_crawler(
        *_cli(db_url, "serve", "--host", "0.0.0.0"), env={**os.environ, "CRAWLER_CONFIG": os.devnull},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: refusing to serve on 0.0.0.0")


async def test_serve_subprocess(engines: Engines, db_url: str) -> None:
    proc = await spawn_crawler(*_cli(db_url, "serve", "--port", "0"))
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("Serving the archive read-only at http://127.0.0.1:"), line
        base = line.split(" at ", 1)[1].split(" ", 1)[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/get_messages", params={"number": "+447700900000", "page": "3"}) as r:
                body = await r.json()
        assert body["status"] == "success" and len(body["data"]["messages"]) == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
