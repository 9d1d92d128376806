"""The Scrapy baseline: the spider a Scrapy user would write instead of this crawler.

A plain Scrapy 2.x spider (home page -> country listings, page by page -> every inbox,
page by page, one item per message row) and an item pipeline that inserts the items into
SQLite with sqlite3 (`INSERT OR IGNORE`, a commit every COMMIT_EVERY items and at close),
run by `CrawlerProcess` with the settings one picks for a fast crawl of a site one owns:
the bench's concurrency, no delay, no robots.txt, no AutoThrottle, no cache. No alignment,
no consistency re-reads: the performance target is "at least 3x a Scrapy 2.x spider with a
SQLite pipeline on the same site", and this is that spider (`crawler bench --scrapy`).

Twisted's reactor runs once per process, so `crawl` runs once, in a child process of its own
(crawler.bench.child, mode "scrapy"). Needs the optional extra `scrapy`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

COMMIT_EVERY = 100  # items (about ten inbox pages) per transaction


def _text(cell: Any) -> str:
    return " ".join(t.strip() for t in cell.css("::text").getall() if t.strip())


class InboxSpider(scrapy.Spider):
    name = "inboxes"

    def __init__(self, base_url: str, max_inboxes: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [base_url.rstrip("/") + "/"]
        self.max_inboxes = max_inboxes  # 0: every inbox
        self.inboxes: set[str] = set()
        self.listing_pages = 0
        self.inbox_pages = 0
        self.first_inbox: float | None = None  # perf_counter of the first inbox request
        self.finished: float | None = None

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """The home page: every country's listing."""
        countries = response.css('a[href*="/country/"]::attr(href)').getall()
        yield from response.follow_all(countries, callback=self.parse_listing)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        self.listing_pages += 1
        for href in response.css('a[href*="/phone/"]::attr(href)').getall():
            url = response.urljoin(href)
            if url in self.inboxes or (self.max_inboxes and len(self.inboxes) >= self.max_inboxes):
                continue
            self.inboxes.add(url)
            if self.first_inbox is None:
                self.first_inbox = time.perf_counter()
            number = url.split("/phone/")[1].split("/")[0]
            yield response.follow(url, callback=self.parse_inbox, cb_kwargs={"number": number, "page": 1})
        next_page = response.css('.pagination a:contains("»")::attr(href)').get()
        if next_page is not None:
            yield response.follow(next_page, callback=self.parse_listing)

    def parse_inbox(self, response: Response, number: str, page: int) -> Iterator[Any]:
        self.inbox_pages += 1
        for position, row in enumerate(response.css("table tbody tr")):
            cells = row.css("td")
            if len(cells) >= 3:
                sender, received, body = (_text(td) for td in cells[:3])
                yield {
                    "number": number, "sender": sender, "received": received, "body": body,
                    "page": page, "position": position,
                }  # fmt: skip
        next_page = response.css('.pagination a:contains("»")::attr(href)').get()
        if next_page is not None:
            yield response.follow(
                next_page, callback=self.parse_inbox, cb_kwargs={"number": number, "page": page + 1}
            )

    def closed(self, reason: str) -> None:
        self.finished = time.perf_counter()  # after the pipelines' close_spider (last commit)


class SQLitePipeline:
    def __init__(self, path: str) -> None:
        self.path = path
        self.pending = 0
        self.con: sqlite3.Connection | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SQLitePipeline:
        return cls(crawler.settings.get("SQLITE_PATH"))

    def open_spider(self, spider: scrapy.Spider | None = None) -> None:
        self.con = sqlite3.connect(self.path)
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS messages (number TEXT, sender TEXT, received TEXT, body TEXT, "
            "page INTEGER, position INTEGER, UNIQUE (number, page, position))"
        )

    def process_item(self, item: dict[str, Any], spider: scrapy.Spider | None = None) -> dict[str, Any]:
        assert self.con is not None
        self.con.execute(
            "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            (item["number"], item["sender"], item["received"], item["body"], item["page"], item["position"]),
        )
        self.pending += 1
        if self.pending >= COMMIT_EVERY:
            self.con.commit()
            self.pending = 0
        return item

    def close_spider(self, spider: scrapy.Spider | None = None) -> None:
        assert self.con is not None
        self.con.commit()
        self.con.close()


def crawl(base_url: str, db_path: str, max_inboxes: int = 0, concurrency: int = 8) -> dict[str, Any]:
    """Run the spider to the end; the same figures as crawler.bench.baseline.crawl."""
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": False,
            "AUTOTHROTTLE_ENABLED": False,
            "HTTPCACHE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "ERROR",
            "ITEM_PIPELINES": {f"{__name__}.SQLitePipeline": 300},
            "SQLITE_PATH": db_path,
        }
    )
    crawler = process.create_crawler(InboxSpider)
    started = time.perf_counter()
    process.crawl(crawler, base_url=base_url, max_inboxes=max_inboxes)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, InboxSpider)
    finished = spider.finished or time.perf_counter()
    assert crawler.stats is not None
    return {
        "listing_pages": spider.listing_pages, "inbox_pages": spider.inbox_pages,
        "messages": int(crawler.stats.get_value("item_scraped_count", 0)), "inboxes": len(spider.inboxes),
        "seconds": finished - started, "inbox_seconds": finished - (spider.first_inbox or started),
        "errors": int(crawler.stats.get_value("log_count/ERROR", 0)), "version": scrapy.__version__,
    }  # fmt: skip
