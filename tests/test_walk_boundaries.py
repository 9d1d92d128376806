"""The page-boundary rule: identical neighbours are not a shift, and a shift is not a repeat.

A hand-driven inbox server (real HTTP on 127.0.0.1) puts two identical "code 0000" rows,
in the same minute, exactly across the page boundary, and can make a message arrive
between the fetches of page 1 and page 2, which shifts one row of page 1 onto page 2.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from crawler.crawl import crawl_pass
from crawler.storage.db import open_archive

from .helpers import make_config, one_inbox_site

NUMBER = "358700900301"
INBOX = f"/finland/phone/{NUMBER}/sms/7"


@dataclass
class Inbox:
    # newest first: (sender, body, minutes ago)
    rows: list[tuple[str, str, int]] = field(default_factory=list)
    arrive_after_page1: list[tuple[str, str, int]] = field(default_factory=list)


def _page(inbox: Inbox, page: int) -> str:
    chunk = inbox.rows[(page - 1) * 10 : page * 10]
    body = "".join(
        f"<tr><td>{s}</td><td>{'just now' if m == 0 else f'{m} minutes ago' if m > 1 else '1 minute ago'}</td><td>{b}</td></tr>"
        for s, b, m in chunk
    )
    last = max(1, -(-len(inbox.rows) // 10))
    links = "".join(
        f'<a href="{INBOX}?page={p}">{p}</a>' if p != page else f'<a href="#" class="active">{p}</a>'
        for p in range(1, last + 1)
    )
    return (
        f"<html><body><section class='container'><h1 class='title'>+{NUMBER}</h1>"
        "<table class='messagesTable'><thead><tr><th>From</th><th>Received</th><th>Message</th></tr></thead>"
        f"<tbody>{body}</tbody></table><div class='pagination'>{links}</div></section></body></html>"
    )


def _serve(inbox: Inbox) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        p = int(request.query.get("page", "1"))
        html = _page(inbox, p)
        if p == 1 and inbox.arrive_after_page1:
            inbox.rows[:0] = inbox.arrive_after_page1  # lands right after page 1 was served
            inbox.arrive_after_page1 = []
        return web.Response(text=html, content_type="text/html")

    return page


async def _crawl_twice(inbox: Inbox, db: Path) -> list[list[tuple[str, str]]]:
    seen = []
    async with one_inbox_site(NUMBER, INBOX, _serve(inbox)) as base:
        url = f"sqlite+aiosqlite:///{db}"
        for _ in range(2):
            async with open_archive(url) as engines:
                await crawl_pass(engines, make_config(base, url))
            con = sqlite3.connect(db)
            seen.append([tuple(r) for r in con.execute("SELECT sender, message FROM message_history ORDER BY seq DESC")])
            con.close()
    return seen


def _inbox() -> Inbox:
    rows = [("BANK", f"distinct {i}", 3 + i) for i in range(15)]
    rows[9] = ("A", "code 0000", 12)  # last row of page 1
    rows[10] = ("A", "code 0000", 12)  # first row of page 2: same sender, body, minute
    return Inbox(rows=rows)


async def test_identical_neighbours_across_the_boundary_are_two_rows(tmp_path: Path) -> None:
    inbox = _inbox()
    want = [(s, b) for s, b, _ in inbox.rows]
    first, second = await _crawl_twice(inbox, tmp_path / "a.db")
    assert first == want
    assert second == want


async def test_an_arrival_between_pages_is_neither_lost_nor_doubled(tmp_path: Path) -> None:
    inbox = _inbox()
    before = [(s, b) for s, b, _ in inbox.rows]
    inbox.arrive_after_page1 = [("A", "code 0000", 0)]  # a repeat of the boundary rows, even
    first, second = await _crawl_twice(inbox, tmp_path / "a.db")
    assert first == before  # the walk reads the inbox as it stood at page 1
    assert second == [("A", "code 0000"), *before]  # the next pass adds exactly the arrival
