"""Daemon bookkeeping: which inboxes are due, leases on them, and the poll records.

All crawl state lives here, in the database (no in-memory seen-sets), so a daemon's memory
stays flat however long it runs and a restart after kill -9 simply resumes.
A lease (`lease_owner`, `lease_until`) marks an inbox as being walked; every release is
fenced on the owner, so a daemon whose lease expired cannot overwrite another's schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update

from crawler.storage.archive import INBOX_COLUMNS, InboxState, inbox_state
from crawler.storage.db import Engines
from crawler.storage.models import Country, CrawlRun, Message, Number
from crawler.storage.types import UtcDateTime

NOT_POLLED = ("retired",)


@dataclass(frozen=True, slots=True)
class PollRecord:
    """One inbox poll, stored as a `crawl_runs` row of kind 'inbox' (detail = the number)."""

    number: str
    started_at: datetime
    finished_at: datetime
    requests: int
    new_messages: int
    outcome: str  # ok | gated | challenged | gone | error | stale


def db_now(engines: Engines, local: datetime) -> Any:
    """The clock leases are judged by: the database's own on PostgreSQL, so daemons on
    hosts whose clocks disagree still agree on who owns what; ours on SQLite (one host)."""
    if engines.dialect == "postgresql":
        return func.now()
    return literal(local, UtcDateTime())


def lease_end(engines: Engines, local: datetime, lease: timedelta) -> Any:
    if engines.dialect == "postgresql":
        return func.now() + lease
    return literal(local + lease, UtcDateTime())


async def claim_due(engines: Engines, owner: str, now: datetime, limit: int, lease: timedelta) -> list[InboxState]:
    """Lease up to `limit` due inboxes, most overdue (and never polled) first."""
    clock = db_now(engines, now)
    due = (
        select(Number.id)
        .where(
            Number.status.not_in(NOT_POLLED),
            or_(Number.next_due_at.is_(None), Number.next_due_at <= clock),
            or_(Number.lease_until.is_(None), Number.lease_until < clock),
        )
        .order_by(Number.next_due_at.asc().nulls_first(), Number.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write lock does this job
    )
    async with engines.writer.begin() as conn:
        ids = list((await conn.execute(due)).scalars().all())
        if not ids:
            return []
        await conn.execute(
            update(Number).where(Number.id.in_(ids)).values(lease_owner=owner, lease_until=lease_end(engines, now, lease))
        )
        rows = await conn.execute(
            select(*INBOX_COLUMNS).join(Country, Country.id == Number.country_id).where(Number.id.in_(ids))
        )
        by_id = {r.id: inbox_state(r) for r in rows.all()}
        return [by_id[i] for i in ids if i in by_id]


async def release(engines: Engines, number_id: int, owner: str, next_due: datetime) -> bool:
    """Schedule the next poll and drop the lease; False if the lease was no longer ours."""
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            update(Number)
            .where(Number.id == number_id, Number.lease_owner == owner)
            .values(next_due_at=next_due, lease_owner=None, lease_until=None)
        )
        return bool(result.rowcount)


async def extend_lease(engines: Engines, number_id: int, owner: str, lease: timedelta) -> bool:
    """Heartbeat while a long walk runs; False when the lease is no longer ours."""
    local = datetime.now(UTC)
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            update(Number)
            .where(Number.id == number_id, Number.lease_owner == owner, Number.lease_until >= db_now(engines, local))
            .values(lease_until=lease_end(engines, local, lease))
        )
        return bool(result.rowcount)


async def release_all(engines: Engines, owner: str | None) -> None:
    """Leases of `owner` (or of everyone: None) become claimable at once.

    At shutdown a daemon drops its own. At start on SQLite, where the instance lock proves
    no other daemon runs, leases left by a killed daemon are dropped too instead of
    blocking its inboxes until they expire.
    """
    stmt = update(Number).where(Number.lease_owner.is_not(None))
    if owner is not None:
        stmt = stmt.where(Number.lease_owner == owner)
    async with engines.writer.begin() as conn:
        await conn.execute(stmt.values(lease_owner=None, lease_until=None))


async def newest_arrivals(engines: Engines, number_id: int, limit: int) -> list[datetime]:
    stmt = (
        select(Message.received_at_max)
        .where(Message.number_id == number_id, Message.received_at_max.is_not(None))
        .order_by(Message.seq.desc())
        .limit(limit)
    )
    async with engines.reader.connect() as conn:
        return [t for t in (await conn.execute(stmt)).scalars().all() if t is not None]


async def retire_gone(engines: Engines, now: datetime, after: timedelta) -> int:
    """Numbers that left the listing long ago stop being polled at all."""
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            update(Number)
            .where(Number.status == "gone", Number.last_seen_at < now - after)
            .values(status="retired")
        )
        return int(result.rowcount or 0)


async def record_polls(engines: Engines, records: Sequence[PollRecord]) -> None:
    if not records:
        return
    async with engines.writer.begin() as conn:
        await conn.execute(
            insert(CrawlRun),
            [
                {
                    "kind": "inbox",
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "requests": r.requests,
                    "retries": 0,
                    "new_numbers": 0,
                    "new_messages": r.new_messages,
                    "inboxes_polled": 1,
                    "empty_polls": int(r.outcome == "ok" and r.new_messages == 0),
                    "gated": int(r.outcome == "gated"),
                    "challenged": int(r.outcome == "challenged"),
                    "errors": int(r.outcome == "error"),
                    "status": r.outcome,
                    "detail": r.number,
                }
                for r in records
            ],
        )


async def prune_runs(engines: Engines, before: datetime) -> int:
    """Poll records are observability, not archive: keep a bounded window of them."""
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            delete(CrawlRun).where(and_(CrawlRun.kind == "inbox", CrawlRun.started_at < before))
        )
        return int(result.rowcount or 0)
