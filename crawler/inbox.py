"""Walking one inbox: newest page first until the stored rows are reached.

An inbox is an append-only list shown newest first, ten rows a page, with relative times
only, and it shifts while we read it: k messages arriving between the fetch of page p and
page p+1 push k rows of page p onto the top of page p+1. The walker therefore

1. builds `walked`, the inbox as it stood when page 1 was fetched, by removing the rows a
   shift repeated at each page boundary. A boundary whose rows merely *look* repeated
   (two identical "Your code is 0000" in one minute) is told apart from a real shift by
   fetching page p again: only a page that did not move proves that nothing arrived;
2. stops as soon as the newest stored rows are found inside `walked` by a match that
   no other alignment could explain (`crawler.align.locate_stored`), or at the inbox's end;
3. hands everything to storage in one transaction. Nothing is written before the walk is
   anchored, so an interrupted walk leaves no half that a later stop rule could mistake
   for the whole (CONTRACT §5): the next pass simply walks again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from crawler import align
from crawler.errors import FetchError
from crawler.fetcher import RETRY_STATUSES, Fetcher, Response
from crawler.sites.base import CountryPage, HomePage, InboxPage, PageKind, ParsedMessage
from crawler.sites.smstome import LayoutError, parse_inbox
from crawler.sites.smstome import page_url as with_page
from crawler.storage import archive
from crawler.storage.archive import InboxState, Narrowing, NewMessage, StoredRow
from crawler.storage.db import Engines

log = logging.getLogger(__name__)

SITE_CLOCK_RESOLUTION = timedelta(seconds=1)  # the Date header has whole seconds
CHALLENGE_RETRIES = 2  # a challenge is retried after a pause, then reported, never looped on
CHALLENGE_PAUSE = 2.0
_Page = TypeVar("_Page", HomePage, CountryPage, InboxPage)
CONSISTENCY_ROUNDS = 3  # refetches of page p to prove a boundary overlap is not a shift


@dataclass
class WalkTrace:
    """What the walk running in the current task did: several walks share one walker (one
    per worker task), and the daemon needs each poll's own request count and the site's
    clock at that poll (arrival rates are measured on the site's clock, not ours)."""

    pages: int = 0
    site_time: datetime | None = None


_trace: contextvars.ContextVar[WalkTrace] = contextvars.ContextVar("walk_trace")


def current_walk() -> WalkTrace:
    return _trace.get(None) or WalkTrace()


def raise_if_exhausted(resp: Response) -> None:
    """A 429/5xx that outlived every retry is a fetch failure, not an unknown layout.

    (A challenge page served with 403/503 is recognised by the parser before this.)
    """
    if resp.status in RETRY_STATUSES:
        raise FetchError(resp.url, f"the site answered HTTP {resp.status} after {resp.attempts} attempts")


async def read_page(
    fetcher: Fetcher, url: str, parse: Callable[[Response], _Page], observe: Callable[[Response], None] | None = None
) -> tuple[_Page, Response, int]:
    """Fetch and parse one page of any kind: (page, response, challenges retried).

    A Cloudflare challenge is retried after a growing, jittered pause, then returned as
    it is (reported, never looped on). `observe` sees every response, retries included.
    """
    for attempt in range(CHALLENGE_RETRIES + 1):
        resp = await fetcher.get(url)
        if observe is not None:
            observe(resp)
        try:
            page = parse(resp)
        except LayoutError:
            raise_if_exhausted(resp)
            raise
        if page.kind is not PageKind.CHALLENGED or attempt == CHALLENGE_RETRIES:
            return page, resp, attempt
        await asyncio.sleep(CHALLENGE_PAUSE * (2**attempt) * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")


class PageUnavailable(Exception):
    """The page is gated, challenged or gone: nothing from this walk may be stored."""

    def __init__(self, kind: PageKind, url: str) -> None:
        super().__init__(f"{kind.value}: {url}")
        self.kind = kind
        self.url = url


@dataclass
class WalkStats:
    """Counters shared by every walk of one pass (single event loop: no locking needed)."""

    pages: int = 0
    refetches: int = 0
    inboxes: int = 0
    empty_polls: int = 0
    new_messages: int = 0
    challenged: int = 0  # challenge pages retried (the final ones are reported per URL)
    layout_errors: int = 0
    fetch_errors: int = 0
    degraded: int = 0
    stale: int = 0
    ok_pages: int = 0


@dataclass(frozen=True, slots=True)
class Seen:
    """One row as read off a page, with the fetch it came from."""

    msg: ParsedMessage
    fetched_at: datetime
    row: align.Row  # what alignment compares, built once (a page is compared several times)

    @classmethod
    def of(cls, msg: ParsedMessage, fetched_at: datetime) -> Seen:
        return cls(msg, fetched_at, align.Row(msg.sender, msg.body, msg.interval.earliest, msg.interval.latest))


def _rows(seen: Sequence[Seen]) -> list[align.Row]:
    return [s.row for s in seen]


def _stored_row(r: StoredRow) -> align.Row:
    return align.Row(r.sender, r.body, r.earliest, r.latest)


def _stored(rows: Sequence[StoredRow]) -> list[align.Row]:
    return [_stored_row(r) for r in rows]


class InboxWalker:
    def __init__(
        self, engines: Engines, fetcher: Fetcher, *, max_pages: int = 0, lease_owner: str | None = None
    ) -> None:
        self.engines = engines
        self.fetcher = fetcher
        self.max_pages = max_pages
        self.lease_owner = lease_owner  # the daemon's id: stores are fenced on its leases
        self.stats = WalkStats()

    async def _fetch(self, url: str, page: int) -> tuple[InboxPage, list[Seen]]:
        target = with_page(url, page)

        def parse(resp: Response) -> InboxPage:
            return parse_inbox(resp.body, target, resp.fetched_at, status=resp.status, resolution=SITE_CLOCK_RESOLUTION)

        parsed, resp, challenges = await read_page(self.fetcher, target, parse, self._observe)
        self.stats.challenged += challenges
        if parsed.kind in (PageKind.GATED, PageKind.CHALLENGED, PageKind.GONE):
            raise PageUnavailable(parsed.kind, target)
        if parsed.degraded:
            # Blanked cells (Cloudflare Server-side Excludes): the rows are not what the
            # site holds, and storing them would be a lie we could never correct.
            self.stats.degraded += 1
            raise PageUnavailable(PageKind.CHALLENGED, target)
        self.stats.ok_pages += 1
        return parsed, [Seen.of(m, resp.fetched_at) for m in parsed.messages]

    def _observe(self, resp: Response) -> None:
        self.stats.pages += 1
        trace = _trace.get(None)
        if trace is not None:
            trace.pages += 1
            trace.site_time = resp.fetched_at

    async def _next_rows(self, url: str, p: int, ref: list[Seen]) -> tuple[InboxPage, list[Seen]]:
        """Rows of page p+1 that continue `ref`, the sighting of page p already walked."""
        nxt_page, nxt = await self._fetch(url, p + 1)
        first_overlap = align.max_overlap(_rows(ref), _rows(nxt))
        if first_overlap == 0:
            return nxt_page, nxt  # no row repeated: nothing can have arrived in between
        base = _rows(ref)
        sighting = base
        shift = 0  # arrivals between `ref` and `sighting`
        for _ in range(CONSISTENCY_ROUNDS):
            self.stats.refetches += 1
            _, again = await self._fetch(url, p)
            moved = align.window_shift(sighting, _rows(again))
            if moved == 0:
                # Page p did not move while p+1 was fetched: p+1 is consistent with the
                # sighting, which is `shift` rows below `ref`, so its first `shift` rows
                # are ref's last ones.
                return nxt_page, nxt[shift:]
            if moved is None:
                break
            total = align.window_shift(base, _rows(again))
            if total is None:
                break
            sighting, shift = _rows(again), total
            self.stats.refetches += 1
            nxt_page, nxt = await self._fetch(url, p + 1)
        # The inbox kept moving: trust the time-aware overlap (identical neighbours with
        # overlapping times at this very boundary are then the residual risk).
        return nxt_page, nxt[align.max_overlap(_rows(ref), _rows(nxt)) :]

    async def walk(self, inbox: InboxState) -> int:
        """Walk one inbox and store what is new; returns the number of new rows (-1: stale)."""
        self.stats.inboxes += 1
        _trace.set(WalkTrace())
        stored_total = inbox.message_count if inbox.walk_complete else 0
        stored: list[StoredRow] = []
        if stored_total:
            stored = await archive.newest_rows(self.engines, inbox.id, 30)
        page_no = 1
        page, ref = await self._fetch(inbox.inbox_url, page_no)
        walked: list[Seen] = list(ref)
        boundary: align.Boundary | None = None
        truncated = False
        while True:
            at_end = not page.messages or page.pagination is None or page.pagination.next_url is None
            if stored_total:
                boundary, stored = await self._locate(inbox, walked, stored, stored_total, at_end)
                if boundary is not None:
                    break
            if at_end:
                break
            if self.max_pages and page_no >= self.max_pages:
                truncated = True
                break
            page, ref = await self._next_rows(inbox.inbox_url, page_no, ref)
            walked.extend(ref)
            page_no += 1
        return await self._store(inbox, walked, stored, boundary, stored_total, truncated)

    async def _locate(
        self,
        inbox: InboxState,
        walked: list[Seen],
        stored: list[StoredRow],
        stored_total: int,
        at_end: bool,
    ) -> tuple[align.Boundary | None, list[StoredRow]]:
        want = min(stored_total, len(walked))
        if len(stored) < want:
            stored = await archive.newest_rows(self.engines, inbox.id, want + 30)
        return (
            align.locate_stored(
                _rows(walked), _stored(stored), stored_total, at_end=at_end, complete=inbox.complete_history
            ),
            stored,
        )

    async def _store(
        self,
        inbox: InboxState,
        walked: list[Seen],
        stored: list[StoredRow],
        boundary: align.Boundary | None,
        stored_total: int,
        truncated: bool,
    ) -> int:
        gap = False
        narrowings: list[Narrowing] = []
        tight = align.tighten(_rows(walked))  # the inbox's order narrows every interval
        if boundary is not None:
            fresh = walked[: boundary.new]
            for seen, old in zip(tight[boundary.new :], stored[: boundary.overlap], strict=False):
                tighter = align.narrowed(_stored_row(old), seen)
                if tighter is not None:
                    narrowings.append(Narrowing(old.id, tighter[0], tighter[1]))
        else:
            fresh = walked
            # Stored rows exist but none were found: a catch-up cut short by max_pages, or
            # an inbox the site reset. Either way rows are missing below the new ones.
            gap = stored_total > 0
        new_rows = [
            NewMessage(
                sender=s.msg.sender,
                body=s.msg.body,
                received_text=s.msg.received_text,
                fetched_at=s.fetched_at,
                earliest=t.earliest,
                latest=t.latest,
            )
            for s, t in zip(fresh, tight, strict=False)
        ]
        added = await archive.store_walk(
            self.engines,
            inbox,
            new_rows,
            narrowings,
            polled_at=datetime.now(UTC),
            gap=gap,
            truncated=truncated and stored_total == 0,
            lease_owner=self.lease_owner,
        )
        if added < 0:
            self.stats.stale += 1
            log.info("inbox %s changed under this walk; it will be walked again", inbox.number)
            return added
        self.stats.new_messages += added
        if added == 0:
            self.stats.empty_polls += 1
        return added


@dataclass(frozen=True, slots=True)
class PollOutcome:
    kind: str  # ok | stale | gated | challenged | gone | error
    added: int = 0
    detail: str | None = None  # the page's URL (unavailable) or the error line


async def poll_inbox(walker: InboxWalker, inbox: InboxState) -> PollOutcome:
    """Walk one inbox; site trouble becomes an outcome (and the inbox's status), never a raise."""
    try:
        added = await walker.walk(inbox)
    except PageUnavailable as exc:
        await archive.set_inbox_status(walker.engines, inbox.id, exc.kind.value, datetime.now(UTC))
        return PollOutcome(exc.kind.value, detail=exc.url)
    except (LayoutError, FetchError) as exc:
        if isinstance(exc, LayoutError):
            walker.stats.layout_errors += 1
        else:
            walker.stats.fetch_errors += 1
        # The status stays; the failure count drives the daemon's backoff.
        await archive.set_inbox_status(walker.engines, inbox.id, inbox.status, datetime.now(UTC))
        return PollOutcome("error", detail=str(exc))
    return PollOutcome("stale") if added < 0 else PollOutcome("ok", added)
