"""A page the parser does not understand fails loudly and stores nothing from that walk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiohttp import web

from crawler.crawl import crawl_pass
from crawler.storage.db import open_archive

from .helpers import make_config, one_inbox_site

FIXTURES = Path(__file__).parent / "fixtures" / "smstome"


def _inbox_page(page: int) -> str:
    rows = "".join(
        f"<tr><td>BANK</td><td>{i + 1} minutes ago</td><td>code {page}{i:02d}</td></tr>" for i in range(10)
    )
    link = '<a href="/finland/phone/358700900301/sms/1?page=2">2</a>'
    return (
        "<html><body><section class='container'><h1 class='title'>+358700900301</h1>"
        "<table class='messagesTable'><thead><tr><th>From</th><th>Received</th><th>Message</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><div class='pagination'><a href='#' class='active'>1</a>{link}</div>"
        "</section></body></html>"
    )


async def test_unknown_layout_mid_walk_stores_nothing_and_is_reported(tmp_path: Path) -> None:
    async def inbox(request: web.Request) -> web.Response:
        if request.query.get("page") == "2":
            return web.Response(body=(FIXTURES / "unknown_layout.html").read_bytes(), content_type="text/html")
        return web.Response(text=_inbox_page(1), content_type="text/html")

    async with one_inbox_site("358700900301", "/finland/phone/358700900301/sms/1", inbox) as base:
        db = tmp_path / "a.db"
        url = f"sqlite+aiosqlite:///{db}"
        async with open_archive(url) as engines:
            report = await crawl_pass(engines, make_config(base, url))
    assert report.walk.layout_errors == 1
    assert any("unrecognised page layout" in e and "page=2" in e for e in report.errors)
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM numbers").fetchone()[0] == 1
    con.close()
