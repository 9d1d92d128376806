"""One full pass (`crawler crawl`): home -> every country listing -> every inbox.

Wires the fetcher, the site parsers and storage together; knows no terminal (progress
goes to a callback) and no clock beyond timestamps for the records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from crawler.config import Config
from crawler.errors import DatabaseError, FetchError
from crawler.fetcher import Fetcher
from crawler.inbox import InboxWalker, WalkStats, poll_inbox, read_page
from crawler.sites.base import CountryPage, HomePage, PageKind
from crawler.sites.smstome import LayoutError, country_url, home_url, parse_country, parse_home
from crawler.storage import archive
from crawler.storage.archive import CountryIn, InboxState, NumberIn
from crawler.storage.db import Engines, describe_db_error
from crawler.storage.search import index_queued

log = logging.getLogger(__name__)
MAX_LISTING_PAGES = 10_000  # a runaway pagination widget must not loop forever
# Inbox walks in progress per request slot. A walk spends much of its time waiting for
# its turn at the archive's single writer; the Fetcher still allows only
# http.concurrency requests in flight, so more walks keep those slots busy without
# asking more of the site. (medium bench: 1 -> 1,080, 3 -> 1,130 inbox pages/s)
WALKS_PER_REQUEST_SLOT = 3
_Page = TypeVar("_Page", HomePage, CountryPage)


@dataclass
class CrawlReport:
    """What one pass did; printed as the summary and stored in `crawl_runs`."""

    started_at: datetime
    finished_at: datetime | None = None
    countries: int = 0
    listing_pages: int = 0
    new_numbers: int = 0
    inboxes_total: int = 0
    inboxes_done: int = 0
    walk: WalkStats = field(default_factory=WalkStats)
    requests: int = 0
    retries: int = 0
    unavailable: dict[str, list[str]] = field(default_factory=lambda: {"gated": [], "challenged": [], "gone": []})
    errors: list[str] = field(default_factory=list)
    ok_listing_pages: int = 0  # country listing pages that were real pages
    home_ok: bool = False
    site_countries: list[str] = field(default_factory=list)  # slugs the home page lists
    missing_countries: list[str] = field(default_factory=list)  # asked for, but not listed
    # Countries whose listing was gated/challenged: their inboxes are not polled blindly.
    blocked_countries: set[str] = field(default_factory=set)

    @property
    def readable(self) -> bool:
        """Did the pass read anything real at all? (exit status 3 when not, CONTRACT §2)"""
        if self.ok_listing_pages > 0 or self.walk.ok_pages > 0:
            return True
        # A site that lists no country at all was still read (there is just nothing to do).
        return self.home_ok and not self.site_countries and not self.missing_countries

    @property
    def gated_pages(self) -> int:
        return len(self.unavailable["gated"])

    @property
    def challenged_pages(self) -> int:
        return self.walk.challenged + len(self.unavailable["challenged"])


Progress = Callable[[CrawlReport, str], None]


def _silent(_report: CrawlReport, _event: str) -> None:
    return None


async def _read_page(fetcher: Fetcher, url: str, parse: Callable[..., _Page]) -> _Page:
    """The home page or a listing page (challenges retried, as for inbox pages)."""
    page, _, _ = await read_page(fetcher, url, lambda resp: parse(resp.body, url, status=resp.status))
    return page


async def _walk_listing(
    engines: Engines, fetcher: Fetcher, report: CrawlReport, slug: str, country_id: int, base_url: str
) -> None:
    """Every page of one country listing; numbers are stored page by page."""
    url: str | None = country_url(base_url, slug)
    listed: list[tuple[str, int]] = []
    pages = 0
    complete = False
    while url is not None and pages < MAX_LISTING_PAGES:
        page = await _read_page(fetcher, url, parse_country)
        pages += 1
        report.listing_pages += 1
        if page.kind in (PageKind.GATED, PageKind.CHALLENGED, PageKind.GONE):
            report.unavailable[page.kind.value].append(url)
            if page.kind is not PageKind.GONE:
                report.blocked_countries.add(slug)
            await archive.set_country_status(engines, country_id, page.kind.value)
            return
        report.ok_listing_pages += 1
        numbers = [
            NumberIn(n.number, n.sms_id, n.inbox_url, n.location, n.added_text) for n in page.numbers
        ]
        listed.extend((n.number, n.sms_id) for n in numbers)
        report.new_numbers += await archive.upsert_numbers(engines, country_id, numbers, datetime.now(UTC))
        if not page.numbers or page.pagination is None or page.pagination.next_url is None:
            complete = True
            break
        url = page.pagination.next_url
    await archive.set_country_status(engines, country_id, "active")
    if complete and listed:
        await archive.mark_unlisted_gone(engines, country_id, listed)


async def read_countries(
    engines: Engines, fetcher: Fetcher, config: Config, report: CrawlReport, only: Sequence[str] = ()
) -> list[tuple[str, int]]:
    """The home page -> countries stored; returns (slug, id) of the countries to walk."""
    url = home_url(config.site.base_url)
    home = await _read_page(fetcher, url, parse_home)
    if home.kind in (PageKind.GATED, PageKind.CHALLENGED, PageKind.GONE):
        report.unavailable[home.kind.value].append(url)
        return []
    report.home_ok = True
    countries = [CountryIn(c.slug, c.name, c.calling_code, c.url, c.flag_url) for c in home.countries]
    report.site_countries = [c.slug for c in countries]
    ids = await archive.upsert_countries(engines, countries, datetime.now(UTC))
    wanted = list(only or config.site.countries) or [c.slug for c in countries]
    for slug in wanted:
        if slug not in ids:
            report.missing_countries.append(slug)
            report.errors.append(f"country {slug!r} is not on the site's home page")
    chosen = [(s, ids[s]) for s in wanted if s in ids]
    report.countries = len(chosen)
    return chosen


async def read_listings(
    engines: Engines, fetcher: Fetcher, config: Config, report: CrawlReport, chosen: Sequence[tuple[str, int]]
) -> None:
    """Every page of every chosen country listing; one country's failure spares the others."""
    for slug, cid in chosen:
        try:
            await _walk_listing(engines, fetcher, report, slug, cid, config.site.base_url)
        except (FetchError, LayoutError) as exc:
            report.errors.append(str(exc))


async def _enumerate(
    engines: Engines, fetcher: Fetcher, config: Config, report: CrawlReport, only: Sequence[str]
) -> list[int]:
    """Home page -> countries -> every listing. Returns the ids of countries to walk."""
    chosen = await read_countries(engines, fetcher, config, report, only)
    await read_listings(engines, fetcher, config, report, chosen)
    return [cid for _, cid in chosen]


async def _walk_inboxes(
    walker: InboxWalker, inboxes: list[InboxState], workers: int, report: CrawlReport, progress: Progress
) -> None:
    queue: asyncio.Queue[InboxState] = asyncio.Queue()
    for inbox in inboxes:
        queue.put_nowait(inbox)

    async def worker() -> None:
        while True:
            try:
                inbox = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            outcome = await poll_inbox(walker, inbox)
            if outcome.kind in report.unavailable:
                report.unavailable[outcome.kind].append(outcome.detail or inbox.inbox_url)
            elif outcome.kind == "error":
                report.errors.append(outcome.detail or inbox.inbox_url)
            report.inboxes_done += 1
            progress(report, "inbox")

    async with asyncio.TaskGroup() as tg:
        for _ in range(max(1, workers)):
            tg.create_task(worker())


async def crawl_pass(
    engines: Engines,
    config: Config,
    *,
    countries: Sequence[str] = (),
    progress: Progress = _silent,
) -> CrawlReport:
    """Run one full pass and record it in `crawl_runs`; never raises for site trouble.

    A database failure (locked past the busy timeout, disk full, connection lost) ends the
    pass as one `DatabaseError` line; what was committed before it stays consistent.
    """
    try:
        return await _crawl_pass(engines, config, countries, progress)
    except Exception as exc:
        failure = database_failure(exc)
        if failure is None:
            raise
        raise DatabaseError(describe_db_error(engines.url, failure)) from exc


def database_failure(exc: BaseException) -> DBAPIError | None:
    """The database error in `exc`, also when a TaskGroup wrapped it in an ExceptionGroup."""
    if isinstance(exc, DBAPIError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := database_failure(inner)) is not None:
                return found
    return None


async def _crawl_pass(
    engines: Engines, config: Config, countries: Sequence[str], progress: Progress
) -> CrawlReport:
    report = CrawlReport(started_at=datetime.now(UTC))
    run_id = await archive.start_run(engines, "crawl", report.started_at)
    status = "failed"
    try:
        async with Fetcher(config.http) as fetcher:
            walker = InboxWalker(engines, fetcher, max_pages=config.crawl.max_pages)
            report.walk = walker.stats
            try:
                ids = await _enumerate(engines, fetcher, config, report, countries)
            except (FetchError, LayoutError) as exc:
                report.errors.append(str(exc))
                ids = []
            progress(report, "listings")
            todo = await archive.inboxes(engines, ids) if ids else []
            todo = [i for i in todo if i.country_slug not in report.blocked_countries]
            report.inboxes_total = len(todo)
            walks = max(1, config.http.concurrency) * WALKS_PER_REQUEST_SLOT
            await _walk_inboxes(walker, todo, walks, report, progress)
            await index_queued(engines)  # leave a fully indexed archive behind (search.py)
            report.requests = fetcher.stats.requests
            report.retries = fetcher.stats.retries
        status = "ok" if report.readable else "unreadable"
        return report
    finally:
        report.finished_at = datetime.now(UTC)
        try:
            await archive.finish_run(
                engines,
                run_id,
                report.finished_at,
                status,
                requests=report.requests,
                retries=report.retries,
                new_numbers=report.new_numbers,
                new_messages=report.walk.new_messages,
                inboxes_polled=report.walk.inboxes,
                empty_polls=report.walk.empty_polls,
                gated=report.gated_pages,
                challenged=report.challenged_pages,
                errors=len(report.errors),
            )
        except DBAPIError:
            if status != "failed":
                raise
            # The pass already failed (the disk is full, the file locked): that first
            # error is the one to report, not this bookkeeping write's echo of it.
            log.debug("could not record the end of crawl run %s", run_id, exc_info=True)
