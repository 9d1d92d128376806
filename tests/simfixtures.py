"""Helpers for tests that read the simulator over real HTTP (tests/test_sim.py and others)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from selectolax.lexbor import LexborHTMLParser


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, str, Any]:
    async with http.get(url, allow_redirects=False, **kw) as r:
        return r.status, await r.text(), r.headers


def rows(html: str) -> list[tuple[str, str, str]]:
    """What the parser must return: first table, skip th rows and rows with < 3 td, cell text
    with <br> joined by one space, trimmed (SITE.md 2.3)."""
    doc = LexborHTMLParser(html)
    table = doc.css_first("table")
    out = []
    for tr in table.css("tbody tr") if table else []:
        tds = tr.css("td")
        if tr.css("th") or len(tds) < 3:
            continue
        a, b, c = (td.text(separator=" ").strip() for td in tds[:3])
        out.append((a, b, c))
    return out


def inbox_path_re() -> re.Pattern[str]:
    return re.compile(r"^/(?P<slug>[a-z-]+)/phone/\+?(?P<digits>\d{7,15})/sms/(?P<id>\d+)/?$")
