"""The baseline: the script a user would write instead of this crawler.

Sequential `requests` + BeautifulSoup (html.parser) + sqlite3: home page -> country
listings -> every inbox, page by page, each page's rows inserted and committed. No
alignment, no retries, no politeness: the simplest thing that archives something, written
only to compare speed and memory with (`crawler bench --baseline`).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any
from urllib.parse import urljoin


def crawl(base_url: str, db_path: str, max_inboxes: int = 0) -> dict[str, Any]:
    import requests  # optional extra `bench`
    from bs4 import BeautifulSoup

    http = requests.Session()
    con = sqlite3.connect(db_path)
    con.execute(
        "CREATE TABLE IF NOT EXISTS messages (number TEXT, sender TEXT, received TEXT, body TEXT, "
        "page INTEGER, position INTEGER, UNIQUE (number, page, position))"
    )
    counts = {"listing_pages": 0, "inbox_pages": 0, "messages": 0}

    def soup(url: str) -> Any:
        return BeautifulSoup(http.get(url, timeout=30).text, "html.parser")

    def next_url(page: Any, url: str) -> str | None:
        link = page.select_one(".pagination a[href]:-soup-contains('»')")
        return urljoin(url, link["href"]) if link is not None else None

    started = time.perf_counter()
    home = soup(base_url.rstrip("/") + "/")
    countries = dict.fromkeys(urljoin(base_url, a["href"]) for a in home.select('a[href*="/country/"]'))
    inboxes: dict[str, None] = {}
    for url in countries:
        current: str | None = url
        while current:
            page = soup(current)
            counts["listing_pages"] += 1
            inboxes.update(dict.fromkeys(urljoin(current, a["href"]) for a in page.select('a[href*="/phone/"]')))
            current = next_url(page, current)
    todo = list(inboxes)[: max_inboxes or None]
    listed = time.perf_counter()
    for inbox in todo:
        number = inbox.split("/phone/")[1].split("/")[0]
        current, page_no = inbox, 1
        while current:
            page = soup(current)
            counts["inbox_pages"] += 1
            rows = []
            for position, tr in enumerate(page.select("table tbody tr")):
                tds = tr.find_all("td")
                if len(tds) >= 3:
                    cells = [td.get_text(" ", strip=True) for td in tds[:3]]
                    rows.append((number, *cells, page_no, position))
            con.executemany("INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.commit()
            counts["messages"] += len(rows)
            current, page_no = next_url(page, current), page_no + 1
    finished = time.perf_counter()
    con.close()
    http.close()
    return {**counts, "inboxes": len(todo), "seconds": finished - started, "inbox_seconds": finished - listed}
