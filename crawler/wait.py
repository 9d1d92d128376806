"""`crawler wait`: poll one live inbox until a new message that matches arrives.

Each poll is an ordinary `InboxWalker.walk` of the inbox (page 1, and more only when
many rows arrived at once), so what `wait` sees is stored exactly as a crawl would store
it; the fetcher keeps http.requests_per_second.

"New" means stored by this command's polls, not present in the archive at start.
One refinement: if the archive is behind, the first poll also stores rows that reached
the site long before `wait` started (yesterday's WhatsApp code must not end a wait for
today's). A row stored by the first poll therefore counts only if its time interval
reaches the moment the command started (the site still shows it as "just now").

Matching: --sender is a case-insensitive substring of the From cell (sites mask and
prefix senders: "FACEBXXX", "VM-GOOGLE"); --contains a case-insensitive substring of
the body. Both given: both must hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from crawler.config import Config
from crawler.errors import CrawlerError, NumberLookupError
from crawler.fetcher import Fetcher
from crawler.inbox import InboxWalker, poll_inbox
from crawler.storage import archive
from crawler.storage import queries as q
from crawler.storage.db import Engines
from crawler.storage.models import Message

log = logging.getLogger(__name__)
CLOCK_SLACK = timedelta(seconds=1)  # the Date header has whole seconds


class WaitTimeout(CrawlerError):
    exit_code = 1


@dataclass(frozen=True, slots=True)
class Arrival:
    number: str
    country: str
    message: q.MessageItem


@dataclass(frozen=True, slots=True)
class Match:
    sender: str | None = None
    contains: str | None = None

    def __call__(self, m: q.MessageItem) -> bool:
        if self.sender and self.sender.casefold() not in m.sender.casefold():
            return False
        return not (self.contains and self.contains.casefold() not in m.body.casefold())


async def _rows_after(engines: Engines, number_id: int, seq: int) -> list[tuple[q.MessageItem, datetime]]:
    """Stored rows above `seq`, oldest first, with the (site clock) time they were fetched."""
    stmt = (
        select(*q.ITEM_COLUMNS, Message.fetched_at)
        .where(Message.number_id == number_id, Message.seq > seq)
        .order_by(Message.seq)
    )
    async with engines.reader.connect() as conn:
        return [(q.item(r), r.fetched_at) for r in (await conn.execute(stmt)).all()]


async def wait_for(
    engines: Engines,
    config: Config,
    number: str,
    match: Match,
    *,
    seconds: float,
    interval: float,
    on_problem: Callable[[str], None] = lambda _text: None,
) -> Arrival:
    """The first new matching message (module docstring); WaitTimeout after `seconds`."""
    try:
        found = await q.find_number(engines, number)
    except NumberLookupError as exc:
        raise CrawlerError(
            f"number {exc.number} is not in the archive yet; run `crawler crawl --country <its country>` "
            "first (`crawler countries` lists them), then wait"
        ) from None
    started = time.monotonic()
    deadline = started + seconds
    if config.http.requests_per_second > 0:
        interval = max(interval, 1.0 / config.http.requests_per_second)
    baseline = (await archive.inbox(engines, found.id)).top_seq
    checked, first_top = baseline, None
    problem = ""
    async with Fetcher(config.http) as fetcher:
        walker = InboxWalker(engines, fetcher, max_pages=config.crawl.max_pages)
        while True:
            remaining = deadline - time.monotonic()
            try:
                outcome = await asyncio.wait_for(
                    poll_inbox(walker, await archive.inbox(engines, found.id)), max(remaining, 0.001)
                )
            except TimeoutError:
                break  # an interrupted walk stores nothing (it stores at its end, atomically)
            if outcome.kind not in ("ok", "stale"):
                problem = outcome.detail or "" if outcome.kind == "error" else f"{outcome.kind}: {outcome.detail}"
                on_problem(problem)
            rows = await _rows_after(engines, found.id, checked)
            if first_top is None:
                first_top = rows[-1][0].seq if rows else baseline
                elapsed = timedelta(seconds=time.monotonic() - started)
            for m, fetched_at in rows:
                # First-poll rows whose time ended before the start were old news (docstring).
                old = m.seq <= first_top and (
                    m.received_at_max is None or m.received_at_max < fetched_at - elapsed - CLOCK_SLACK
                )
                if not old and match(m):
                    return Arrival(found.number, found.country, m)
            checked = rows[-1][0].seq if rows else checked
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(interval, remaining))
    why = f"; last problem: {problem}" if problem else ""
    raise WaitTimeout(f"no new matching message for +{found.number} within {seconds:g} s{why}")

