"""`crawler run`: keep every inbox current at the lowest request cost, for months.

APScheduler 3.x (started inside the running loop, STACK.md §1) fires three kinds of thin
jobs: country enumeration, number enumeration, and a dispatcher that leases due inboxes
from the database and hands them to a fixed pool of worker tasks. Per-inbox timing lives
in the database (`numbers.next_due_at`), never in one job per number, so memory stays flat
and a restart (even after kill -9) resumes where the database says.

Shutdown (SIGTERM/SIGINT): stop taking work, let in-flight walks finish for up to
`DRAIN_SECONDS`, cancel the rest (a walk writes in one transaction at its end, so a
cancelled walk stores nothing and is simply redone), release our leases, close the HTTP
session and the engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from crawler.config import Config
from crawler.crawl import CrawlReport, read_countries, read_listings
from crawler.errors import CrawlerError, FetchError
from crawler.fetcher import Fetcher
from crawler.inbox import InboxWalker, current_walk, poll_inbox
from crawler.schedule import RATE_SAMPLE, arrival_rate, backoff_interval, poll_interval
from crawler.sites.smstome import LayoutError
from crawler.storage import archive, jobs, polls
from crawler.storage.archive import InboxState
from crawler.storage.db import Engines, open_archive
from crawler.storage.search import index_queued

log = logging.getLogger(__name__)

DRAIN_SECONDS = 20.0  # keep systemd's TimeoutStopSec above this
FLUSH_SECONDS = 15.0  # poll records are written in batches
KEEP_POLL_RECORDS = timedelta(days=30)


class DaemonRunningError(CrawlerError):
    pass


@contextlib.contextmanager
def instance_lock(db_url: str) -> Iterator[None]:
    """One daemon per SQLite file: an flock next to it (the kernel drops it on kill -9)."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = Path(f"{url.database}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DaemonRunningError(
                f"another `crawler run` (pid {holder}) is already using {url.database}; stop it first "
                "(several daemons can share one PostgreSQL database, not one SQLite file)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)


@dataclass
class DaemonStats:
    inbox_polls: int = 0
    new_messages: int = 0
    requests: int = 0
    enumerations: int = 0
    pending: list[polls.PollRecord] = field(default_factory=list)


class Daemon:
    def __init__(self, config: Config, *, workers: int | None = None) -> None:
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}"[:64]
        self.workers = workers or max(1, config.http.concurrency)
        self.stats = DaemonStats()
        self.queue: asyncio.Queue[InboxState | None] = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.lease = timedelta(seconds=config.schedule.lease_seconds)
        self._engines: Engines | None = None
        self._fetcher: Fetcher | None = None
        self._walker: InboxWalker | None = None

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event) -> DaemonStats:
        with instance_lock(self.config.database.url):
            async with (
                open_archive(self.config.database.url) as engines,
                Fetcher(self.config.http, client_id=self.owner) as fetcher,
            ):
                self._engines, self._fetcher = engines, fetcher
                self._walker = InboxWalker(
                    engines, fetcher, max_pages=self.config.crawl.max_pages, lease_owner=self.owner
                )
                await polls.release_all(engines, None if engines.dialect == "sqlite" else self.owner)
                await index_queued(engines)  # rows a killed predecessor left unindexed (search.py)
                scheduler = self._scheduler()
                scheduler.start()
                tasks = [asyncio.create_task(self._worker(), name=f"worker-{i}") for i in range(self.workers)]
                log.info("daemon %s started: %d workers", self.owner, self.workers)
                await stop.wait()
                log.info("stopping: finishing in-flight inbox walks (at most %.0f s)", DRAIN_SECONDS)
                self.stopping.set()
                scheduler.shutdown(wait=False)
                self._stop_workers()
                _, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                await polls.release_all(engines, self.owner)
                await self._flush()
                await index_queued(engines)
        log.info("daemon stopped after %d polls, %d new messages", self.stats.inbox_polls, self.stats.new_messages)
        return self.stats

    def _scheduler(self) -> AsyncIOScheduler:
        s = self.config.schedule
        sched = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)

        def every(minutes: float) -> IntervalTrigger:
            seconds = minutes * 60
            # Jitter keeps several daemons (or restarts) from firing in lockstep.
            return IntervalTrigger(seconds=seconds, jitter=min(seconds * 0.1, 60), timezone=UTC)

        def job(fn: Any, trigger: IntervalTrigger, job_id: str, first: datetime) -> None:
            grace = max(1, int(trigger.interval.total_seconds()))
            sched.add_job(
                fn, trigger, id=job_id, next_run_time=first,
                coalesce=True, max_instances=1, misfire_grace_time=grace,
            )

        job(self._enumerate_countries, every(s.countries_every_minutes), "countries", now)
        job(self._enumerate_numbers, every(s.numbers_every_minutes), "numbers", now + timedelta(seconds=1))
        tick = min(5.0, max(0.2, s.inbox_min_minutes * 60 / 4))
        sched.add_job(
            self._dispatch, IntervalTrigger(seconds=tick, timezone=UTC), id="dispatch",
            next_run_time=now, coalesce=True, max_instances=1, misfire_grace_time=max(1, int(tick * 4)),
        )
        sched.add_job(
            self._flush, IntervalTrigger(seconds=FLUSH_SECONDS, timezone=UTC), id="flush",
            coalesce=True, max_instances=1, misfire_grace_time=int(FLUSH_SECONDS),
        )
        return sched

    # ------------------------------------------------------------------ jobs
    async def _enumeration(self, kind: str, countries_only: bool) -> None:
        assert self._engines is not None and self._fetcher is not None
        engines = self._engines
        s = self.config.schedule
        every = timedelta(minutes=s.countries_every_minutes if countries_only else s.numbers_every_minutes)
        async with jobs.singleton(engines, kind) as mine:
            # Another daemon runs it now, or ran it moments ago: nothing to do this time.
            if not mine or await jobs.finished_recently(engines, kind, datetime.now(UTC), every * 0.8):
                return
            await self._run_enumeration(kind, countries_only)

    async def _run_enumeration(self, kind: str, countries_only: bool) -> None:
        assert self._engines is not None and self._fetcher is not None
        engines, fetcher = self._engines, self._fetcher
        report = CrawlReport(started_at=datetime.now(UTC))
        run_id = await archive.start_run(engines, kind, report.started_at)
        status = "failed"
        before = fetcher.stats.requests
        try:
            if countries_only:
                await read_countries(engines, fetcher, self.config, report)
                status = "ok" if report.home_ok else "unreadable"
            else:
                chosen = await archive.listed_countries(engines, self.config.site.countries)
                if not chosen:  # first start: the countries job may not have finished yet
                    chosen = await read_countries(engines, fetcher, self.config, report)
                await read_listings(engines, fetcher, self.config, report, chosen)
                retire = timedelta(days=self.config.schedule.retire_after_days)
                await polls.retire_gone(engines, datetime.now(UTC), retire)
                status = "ok" if report.ok_listing_pages else "unreadable"
        except (FetchError, LayoutError) as exc:
            report.errors.append(str(exc))
            log.warning("%s enumeration failed: %s", kind, exc)
        finally:
            self.stats.enumerations += 1
            await archive.finish_run(
                engines, run_id, datetime.now(UTC), status,
                requests=fetcher.stats.requests - before, new_numbers=report.new_numbers,
                gated=len(report.unavailable["gated"]), challenged=len(report.unavailable["challenged"]),
                errors=len(report.errors), detail="; ".join(report.errors[:3]) or None,
            )

    async def _enumerate_countries(self) -> None:
        await self._enumeration("countries", countries_only=True)

    async def _enumerate_numbers(self) -> None:
        await self._enumeration("numbers", countries_only=False)

    async def _dispatch(self) -> None:
        """Lease due inboxes up to what the workers can take soon; the rest stays due."""
        if self.stopping.is_set() or self._engines is None:
            return
        room = self.workers * 2 - self.queue.qsize()
        if room <= 0:
            return
        for inbox in await polls.claim_due(self._engines, self.owner, datetime.now(UTC), room, self.lease):
            self.queue.put_nowait(inbox)

    async def _flush(self) -> None:
        if self._engines is None:
            return
        records, self.stats.pending = self.stats.pending, []
        await polls.record_polls(self._engines, records)
        await polls.prune_runs(self._engines, datetime.now(UTC) - KEEP_POLL_RECORDS)

    # ------------------------------------------------------------------ workers
    async def _worker(self) -> None:
        # `None` is the stop signal (see `_stop_workers`); claimed inboxes still queued
        # then are dropped, their leases released by `run`.
        while (inbox := await self.queue.get()) is not None:
            try:
                await self._poll(inbox)
            except Exception:
                # A database hiccup (locked, disk full, connection lost) must not silently
                # shrink the worker pool: log it, pause, and take the next inbox. The
                # inbox's lease expires and it is polled again.
                log.exception("polling inbox %s failed; continuing", inbox.number)
                await asyncio.sleep(5)

    def _stop_workers(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        for _ in range(self.workers):
            self.queue.put_nowait(None)

    async def _poll(self, inbox: InboxState) -> None:
        assert self._engines is not None and self._walker is not None
        started = datetime.now(UTC)
        heartbeat = asyncio.create_task(self._heartbeat(inbox))
        try:
            outcome = await poll_inbox(self._walker, inbox)
        finally:
            heartbeat.cancel()
        if outcome.kind == "error":
            log.warning("inbox %s: %s", inbox.number, outcome.detail)
        finished = datetime.now(UTC)
        next_due = finished + await self._next_interval(inbox, outcome.kind)
        await polls.release(self._engines, inbox.id, self.owner, next_due)
        requests = current_walk().pages
        self.stats.inbox_polls += 1
        self.stats.new_messages += outcome.added
        self.stats.requests += requests
        self.stats.pending.append(
            polls.PollRecord(inbox.number, started, finished, requests, outcome.added, outcome.kind)
        )

    async def _heartbeat(self, inbox: InboxState) -> None:
        """Renew the lease every third of its length while a (long) walk runs."""
        assert self._engines is not None
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if not await polls.extend_lease(self._engines, inbox.id, self.owner, self.lease):
                log.warning("lost the lease on inbox %s; its walk will not be stored", inbox.number)
                return

    async def _next_interval(self, inbox: InboxState, outcome: str) -> timedelta:
        assert self._engines is not None
        s = self.config.schedule
        if outcome in ("ok", "stale"):
            if inbox.status == "gone":
                interval = timedelta(minutes=s.inbox_max_minutes)
            else:
                arrivals = await polls.newest_arrivals(self._engines, inbox.id, RATE_SAMPLE)
                site_now = current_walk().site_time or datetime.now(UTC)
                rate = arrival_rate(arrivals, site_now)
                interval = poll_interval(rate, s.inbox_min_minutes, s.inbox_max_minutes)
        else:
            # `poll_inbox` has just counted this failure in the database too.
            interval = backoff_interval(inbox.failures + 1, s.inbox_min_minutes, s.inbox_max_minutes)
        # +-10 % so inboxes first seen together drift apart instead of polling in bursts.
        return interval * random.uniform(0.9, 1.1)
