"""Hostile message content, end to end: served over HTTP, crawled, stored, exported, served
by the API and printed on a terminal.

How odd text is stored (decided here, in ONE place: the HTML parser):

- NUL: the HTML5 tree builder (Lexbor, as every browser) drops U+0000 from text, and turns
  `&#0;` into U+FFFD. So no NUL ever reaches the archive; PostgreSQL, which cannot hold NUL
  in text, and SQLite store the same strings.
- Invalid UTF-8: decoded as U+FFFD per bad sequence, as a browser shows it.
- CR LF / lone CR: the HTML input stream turns them into LF, as a browser does.
- Everything else (controls such as ESC and BEL, bidi overrides, zero-width characters,
  markup-like text, 100 KB bodies, quotes and commas) is kept exactly as the site shows it.
  Neutralising happens on the way OUT: CSV formula prefix, JSON escaping, terminal `clean()`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from crawler.api import create_app
from crawler.cli import cli
from crawler.crawl import crawl_pass
from crawler.sim import SimOptions, Simulator, running_simulator
from crawler.sim.world import Message
from crawler.sites.smstome import page_url, parse_inbox
from crawler.storage.db import open_archive

from .front import running_front
from .helpers import archived, make_config

BAD_BYTES = b"\xff\xfe\xc3( \xed\xa0\x80"  # invalid starts, a truncated sequence, an encoded surrogate
BAD_MARK = "BADBYTESHERE"
HOSTILE: list[tuple[str, str]] = [
    ("NulSender", "code 1234\x00 after a NUL &#0; entity"),
    ("Term", "\x1b[2J\x1b[31mRED\x1b[0m \x07bell \x08back \x1b]0;title\x07 \x9b31m"),
    ("Bidi", "\u202eevil\u202c \u200bzero\u200dwidth\ufeff \u2066iso\u2069 مرحبا עברית"),
    ("Big", "A" * 100_000),
    ("Html", "<script>alert(1)</script> <b>bold</b> &amp; <img src=x onerror=alert(1)> ]]> <!-- c -->"),
    ("=HYPERLINK(\"http://evil\",\"x\")", "=1+2"),
    ('Bob "the, builder"', "+1+2, -2+3, @SUM(A1), \ttab, 'quote"),
    ("O'Brien, Inc.", "line1\nline2\r\nline3\rline4"),
    ("Bytes", f"before {BAD_MARK} after"),
]
EXPECTED = {  # what a browser shows, hence what the archive must hold
    "NulSender": "code 1234 after a NUL &#0; entity",  # the sim escapes "&": the entity stays text
    "O'Brien, Inc.": "line1\nline2\nline3\nline4",
    "Bytes": "before \ufffd\ufffd\ufffd( \ufffd\ufffd\ufffd after",
}


def inject(sim: Simulator, number: str) -> None:
    n = sim.world.by_digits[number]
    t = max([m.at for m in n.messages] + [sim.now() - 3600])
    for sender, body in HOSTILE:
        t = round(t + 1.5, 3)
        n.messages.append(Message(sender, body, t, 0))


def bad_bytes(_: web.Request, body: bytes) -> bytes:
    return body.replace(BAD_MARK.encode(), BAD_BYTES)


@pytest.fixture
async def hostile(tmp_path: Path) -> AsyncIterator[tuple[Simulator, str, Path, list[str]]]:
    options = SimOptions(seed=9, countries=2, numbers_per_country=2, max_messages=5, frozen=True)
    async with running_simulator(options) as sim:
        # one inbox per markup generation
        targets = [next(n for n in sim.truth()["numbers"] if n["country"] == c["slug"])["number"]
                   for c in sim.truth()["countries"]]  # fmt: skip
        for number in targets:
            inject(sim, number)
        db = tmp_path / "a.db"
        async with running_front(sim.base_url or "", rewrite=bad_bytes) as front:
            url = f"sqlite+aiosqlite:///{db}"
            async with open_archive(url) as engines:
                report = await crawl_pass(engines, make_config(front, url))
            assert not report.errors, report.errors
            yield sim, front, db, targets


async def parsed_inbox(front: str, sim: Simulator, number: str) -> list[tuple[str, str]]:
    """What the parser returns for the whole inbox, read independently of the crawler."""
    entry = next(n for n in sim.truth()["numbers"] if n["number"] == number)
    url = front + entry["inbox_url"].split(sim.base_url or "", 1)[1]
    out: list[tuple[str, str]] = []
    async with aiohttp.ClientSession() as http:
        for page in range(1, 10):
            async with http.get(page_url(url, page)) as r:
                body, date = await r.read(), r.headers["Date"]
            from crawler.fetcher import site_time

            parsed = parse_inbox(body, page_url(url, page), site_time({"Date": date}))  # type: ignore[arg-type]
            if not parsed.messages:
                break
            out += [(m.sender, m.body) for m in parsed.messages]
    return out


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def test_hostile_content_is_stored_as_the_parser_reads_it(
    hostile: tuple[Simulator, str, Path, list[str]],
) -> None:
    sim, front, db, targets = hostile
    got = archived(db)
    for number in targets:
        rows = [(s, b) for s, b, _, _ in got[number]]
        assert rows == await parsed_inbox(front, sim, number)
        stored = dict(rows)
        for sender, body in HOSTILE:
            assert stored[sender] == EXPECTED.get(sender, body), sender
            assert "\x00" not in stored[sender]
        # the rest of the inbox is exact too
        truth = next(n for n in sim.truth()["numbers"] if n["number"] == number)
        assert len(rows) == len(truth["messages"])


async def test_hostile_content_is_exported_safely(
    hostile: tuple[Simulator, str, Path, list[str]], tmp_path: Path
) -> None:
    _, _, db, targets = hostile
    url = f"sqlite+aiosqlite:///{db}"
    number = targets[0]
    stored = {s: b for s, b, _, _ in archived(db)[number]}

    text = await asyncio.to_thread(invoke, "--database", url, "export", number)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_sender = {r["from"].removeprefix("'"): r for r in rows}
    assert by_sender["=HYPERLINK(\"http://evil\",\"x\")"]["from"].startswith("'=")  # neutralised
    assert by_sender["=HYPERLINK(\"http://evil\",\"x\")"]["message"] == "'=1+2"
    assert by_sender['Bob "the, builder"']["message"] == "'" + stored['Bob "the, builder"']
    for sender in ("Big", "Bidi", "Html", "O'Brien, Inc.", "Bytes", 'Bob "the, builder"'):
        cell = by_sender[sender]["message"].removeprefix("'")
        assert cell == stored[sender], sender  # quoting round-trips commas, quotes, newlines
    for r in rows:
        assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values() if v and not v.startswith("+4"))

    lines = (await asyncio.to_thread(invoke, "--database", url, "export", number, "--format", "jsonl")).splitlines()
    for line in lines:
        assert not any(ch in line for ch in "\x00\x07\x08\x1b\r"), repr(line[:80])  # escaped by json
    decoded = {d["from"]: d["message"] for d in map(json.loads, lines)}
    assert decoded == stored  # exact text, no neutralisation

    out = tmp_path / "all"
    await asyncio.to_thread(invoke, "--database", url, "export", "--all", "-o", str(out), "--format", "jsonl")
    assert len(list(out.iterdir())) == len(archived(db))


async def test_hostile_content_is_served_as_escaped_json(
    hostile: tuple[Simulator, str, Path, list[str]], aiohttp_client: Any
) -> None:
    _, _, db, targets = hostile
    async with open_archive(f"sqlite+aiosqlite:///{db}") as engines:
        client = await aiohttp_client(create_app(engines))
        for number in targets:
            stored = {s: b for s, b, _, _ in archived(db)[number]}
            seen: dict[str, str] = {}
            for page in (1, 2, 3):
                resp = await client.get("/get_messages", params={"number": number, "page": str(page)})
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("application/json")
                raw = await resp.text()
                assert "<" not in raw and ">" not in raw and "\x1b" not in raw
                seen.update({m["from"]: m["message"] for m in json.loads(raw)["data"]["messages"]})
            assert {s: seen[s] for s, _ in HOSTILE} == {s: stored[s] for s, _ in HOSTILE}
            resp = await client.get("/search_messages", params={"query": "<script>"})
            hits = json.loads(await resp.text())["data"]["results"]
            assert any("<script>alert(1)</script>" in h["message"] for h in hits)


async def test_hostile_content_prints_safely_on_a_terminal(hostile: tuple[Simulator, str, Path, list[str]]) -> None:
    _, _, db, targets = hostile
    url = f"sqlite+aiosqlite:///{db}"
    shown = ""
    for number in targets:
        for page in (1, 2):
            shown += await asyncio.to_thread(invoke, "--database", url, "messages", number, "--page", str(page))
    shown += await asyncio.to_thread(invoke, "--database", url, "search", "bold")
    assert "RED" in shown and "alert(1)" in shown and "builder" in shown
    for bad in ("\x1b", "\x07", "\x08", "\x9b", "\x00", "\r", "\u202e", "\u2066"):
        assert bad not in shown, repr(bad)
