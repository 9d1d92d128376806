"""The crawler's write path: countries, numbers, walked inbox rows, crawl runs.

Every write goes through `Engines.writer` (on SQLite one connection whose transactions
start with BEGIN IMMEDIATE, STACK.md §2.3), in short transactions. An inbox walk is
stored in one transaction: new rows, narrowed intervals and the inbox's state together,
so a crash leaves either the whole walk or none of it (CONTRACT §5). Walks that finish
while another is being written are group-committed: the next writer stores all of them
in ONE transaction (each still fenced on its own top_seq/lease, see `store_walk`), which
cuts the writer's BEGIN/COMMIT round trips to a fraction under a concurrent crawl.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from crawler.extract import code_and_service
from crawler.storage.db import Engines
from crawler.storage.models import Country, CrawlRun, Message, Number
from crawler.storage.search import index_queued, index_queued_sync
from crawler.storage.sqlite_direct import (
    NOT_AVAILABLE,
    Positional,
    positional,
    run_on_driver_thread,
    transaction,
)

# Both dialects' INSERT ... ON CONFLICT share one API (STACK.md §2.5); typed loosely so
# one code path serves both.
INSERT: dict[str, Callable[[Any], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True, slots=True)
class CountryIn:
    slug: str
    name: str
    calling_code: str | None
    url: str
    flag_url: str | None


@dataclass(frozen=True, slots=True)
class NumberIn:
    number: str
    sms_id: int
    inbox_url: str
    location: str | None
    added_text: str | None


@dataclass(frozen=True, slots=True)
class InboxState:
    """What the walker needs to know about one inbox before it walks it."""

    id: int
    number: str
    country_slug: str
    inbox_url: str
    walk_complete: bool
    message_count: int
    top_seq: int
    status: str
    # False when rows are missing below some stored ones (first walk cut by max_pages,
    # or an inbox the site reset): the stored rows are then not the site's last rows.
    complete_history: bool = True
    failures: int = 0


@dataclass(frozen=True, slots=True)
class StoredRow:
    id: int
    seq: int
    sender: str
    body: str
    earliest: datetime | None
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    sender: str
    body: str
    received_text: str
    fetched_at: datetime
    earliest: datetime | None
    latest: datetime | None
    code: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Narrowing:
    message_id: int
    earliest: datetime | None
    latest: datetime | None


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def midpoint(earliest: datetime | None, latest: datetime | None) -> datetime | None:
    """`received_at`: the middle of what we know, None when we know nothing."""
    if earliest is None or latest is None:
        return latest or earliest
    return earliest + (latest - earliest) / 2


async def upsert_countries(engines: Engines, countries: Iterable[CountryIn], seen_at: datetime) -> dict[str, int]:
    """Insert new countries, refresh known ones; returns slug -> id for all of them."""
    rows = {c.slug: c for c in countries}
    if not rows:
        return {}
    ins = INSERT[engines.dialect](Country)
    stmt = ins.on_conflict_do_update(
        index_elements=["slug"],
        set_={
            "name": ins.excluded.name,
            "calling_code": ins.excluded.calling_code,
            "url": ins.excluded.url,
            "flag_url": ins.excluded.flag_url,
            "last_seen_at": ins.excluded.last_seen_at,
            "status": "active",
        },
    )
    values = [
        {
            "slug": c.slug,
            "name": c.name,
            "calling_code": c.calling_code,
            "url": c.url,
            "flag_url": c.flag_url,
            "status": "active",
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
        }
        for c in rows.values()
    ]
    async with engines.writer.begin() as conn:
        await conn.execute(stmt, values)
        result = await conn.execute(select(Country.slug, Country.id).where(Country.slug.in_(list(rows))))
        return dict(result.all())


async def listed_countries(engines: Engines, only: Sequence[str] = ()) -> list[tuple[str, int]]:
    """(slug, id) of the countries whose listings the daemon walks: the configured ones,
    else every country the home page showed last time."""
    stmt = select(Country.slug, Country.id).where(Country.status != "gone").order_by(Country.slug)
    if only:
        stmt = stmt.where(Country.slug.in_(list(only)))
    async with engines.reader.connect() as conn:
        return [(str(slug), int(cid)) for slug, cid in (await conn.execute(stmt)).all()]


async def set_country_status(engines: Engines, country_id: int, status: str) -> None:
    async with engines.writer.begin() as conn:
        await conn.execute(update(Country).where(Country.id == country_id).values(status=status))


async def upsert_numbers(
    engines: Engines, country_id: int, numbers: Sequence[NumberIn], seen_at: datetime
) -> int:
    """Record one country listing; returns how many numbers were new to the archive."""
    if not numbers:
        return 0
    unique = {(n.number, n.sms_id): n for n in numbers}
    ins = INSERT[engines.dialect](Number)
    stmt = ins.on_conflict_do_update(
        index_elements=["number", "sms_id"],
        set_={
            "inbox_url": ins.excluded.inbox_url,
            "location": ins.excluded.location,
            "added_text": ins.excluded.added_text,
            "last_seen_at": ins.excluded.last_seen_at,
            "country_id": ins.excluded.country_id,
            # Listed again: a number that had left the listing is polled again.
            "status": case((or_(Number.status == "gone", Number.status == "retired"), "active"), else_=Number.status),
        },
    ).returning(Number.first_seen_at)  # an update keeps the old first_seen_at: new rows have ours
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            stmt,
            [
                {
                    "number": n.number,
                    "sms_id": n.sms_id,
                    "country_id": country_id,
                    "inbox_url": n.inbox_url,
                    "location": n.location,
                    "added_text": n.added_text,
                    "status": "active",
                    "first_seen_at": seen_at,
                    "last_seen_at": seen_at,
                    "walk_complete": False,
                    "history_truncated": False,
                    "message_count": 0,
                    "top_seq": 0,
                    "failures": 0,
                }
                for n in unique.values()
            ],
        )
        return sum(1 for first_seen in result.scalars() if first_seen == seen_at)


async def mark_unlisted_gone(engines: Engines, country_id: int, listed: Iterable[tuple[str, int]]) -> int:
    """Numbers of a fully walked listing that it no longer shows become `gone`."""
    keep = set(listed)
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            select(Number.id, Number.number, Number.sms_id).where(
                Number.country_id == country_id, Number.status.not_in(("gone", "retired"))
            )
        )
        gone = [row.id for row in result.all() if (row.number, row.sms_id) not in keep]
        if gone:
            await conn.execute(update(Number).where(Number.id.in_(gone)).values(status="gone"))
        return len(gone)


# What the walker needs to know about an inbox, read the same way wherever inboxes are picked.
INBOX_COLUMNS = (
    Number.id,
    Number.number,
    Country.slug,
    Number.inbox_url,
    Number.walk_complete,
    Number.message_count,
    Number.top_seq,
    Number.status,
    Number.history_truncated,
    Number.failures,
)


def inbox_state(r: Any) -> InboxState:
    """An InboxState from a row selected with INBOX_COLUMNS (joined to countries)."""
    return InboxState(
        id=r.id,
        number=r.number,
        country_slug=r.slug,
        inbox_url=r.inbox_url,
        walk_complete=r.walk_complete,
        message_count=r.message_count,
        top_seq=r.top_seq,
        status=r.status,
        complete_history=not r.history_truncated,
        failures=r.failures,
    )


async def inbox(engines: Engines, number_id: int) -> InboxState:
    """One inbox's current state (fresh: top_seq moves with every stored walk)."""
    stmt = select(*INBOX_COLUMNS).join(Country, Country.id == Number.country_id).where(Number.id == number_id)
    async with engines.reader.connect() as conn:
        return inbox_state((await conn.execute(stmt)).one())


async def inboxes(engines: Engines, country_ids: Sequence[int]) -> list[InboxState]:
    """The listed inboxes of these countries (not those that left the listing)."""
    stmt = (
        select(*INBOX_COLUMNS)
        .join(Country, Country.id == Number.country_id)
        .where(Number.country_id.in_(list(country_ids)))
        .order_by(Number.id)
    )
    stmt = stmt.where(Number.status.not_in(("gone", "retired")))
    async with engines.reader.connect() as conn:
        return [inbox_state(r) for r in (await conn.execute(stmt)).all()]


# Built once (every poll of every inbox runs it; building a select costs more than the query).
_NEWEST_ROWS = (
    select(Message.id, Message.seq, Message.sender, Message.body, Message.received_at_min, Message.received_at_max)
    .where(Message.number_id == bindparam("n_id"))
    .order_by(Message.seq.desc())
    .limit(bindparam("n_limit"))
)


async def newest_rows(engines: Engines, number_id: int, limit: int) -> list[StoredRow]:
    """The newest stored rows of one inbox, newest first."""
    async with engines.reader.connect() as conn:
        result = await conn.execute(_NEWEST_ROWS, {"n_id": number_id, "n_limit": limit})
        return [StoredRow(*row) for row in result.all()]


def message_values(
    inbox: InboxState, new_rows: Sequence[NewMessage], polled_at: datetime, *, gap: bool
) -> list[dict[str, Any]]:
    """The `messages` rows of one walk (`new_rows` newest first) on top of `inbox`."""
    top = inbox.top_seq + len(new_rows)
    oldest = len(new_rows) - 1
    # Extracted here, not by callers: every writer gets codes (CONTRACT §4).
    found = [
        (m.code, m.service) if m.code is not None and m.service is not None else code_and_service(m.body, m.sender)
        for m in new_rows
    ]
    return [
        {  # keys: MESSAGE_KEYS
            "number_id": inbox.id,
            "seq": top - i,
            "sender": m.sender,
            "body": m.body,
            "body_hash": body_hash(m.body),
            "received_text": m.received_text[:100],
            "fetched_at": m.fetched_at,
            "received_at": midpoint(m.earliest, m.latest),
            "received_at_min": m.earliest,
            "received_at_max": m.latest,
            "first_seen_at": polled_at,
            "code": m.code if m.code is not None else found[i][0],
            "service": m.service if m.service is not None else found[i][1],
            "gap_before": gap and i == oldest,
        }
        for i, m in enumerate(new_rows)
    ]


MESSAGE_KEYS = (
    "number_id", "seq", "sender", "body", "body_hash", "received_text", "fetched_at", "received_at",
    "received_at_min", "received_at_max", "first_seen_at", "code", "service", "gap_before",
)  # fmt: skip


async def insert_messages(conn: AsyncConnection, dialect: str, values: Sequence[dict[str, Any]]) -> int:
    """The one INSERT of message rows (batched); rows whose (number, seq) exists are
    skipped. Returns how many were new."""
    result = await conn.execute(INSERT[dialect](Message).on_conflict_do_nothing(), list(values))
    return max(int(result.rowcount), 0)


async def store_messages(engines: Engines, values: Sequence[dict[str, Any]]) -> int:
    """Insert message rows (MESSAGE_KEYS dicts) in one transaction, skipping those whose
    (number, seq) is stored; returns how many were new. The write path of `store_walk`
    without its fences (the storage benchmark measures it)."""
    if engines.dialect == "sqlite":
        insert = _sqlite_insert()
        rows = [insert.args(v) for v in values]
        async with engines.writer.connect() as conn:
            done = await run_on_driver_thread(
                conn, lambda con: transaction(con, lambda cur: _insert_rows_sqlite(cur, rows))
            )
        if done is not NOT_AVAILABLE:
            return cast("int", done)
    async with engines.writer.begin() as conn:
        return await insert_messages(conn, engines.dialect, values)


async def store_walk(
    engines: Engines,
    inbox: InboxState,
    new_rows: Sequence[NewMessage],
    narrowings: Sequence[Narrowing],
    *,
    polled_at: datetime,
    gap: bool,
    truncated: bool,
    lease_owner: str | None = None,
) -> int:
    """Store one walk atomically. `new_rows` are newest first; they go on top of the inbox.

    The inbox's row is updated only where its top_seq is still what the walk started
    from: if another writer stored rows meanwhile, this walk is stale and is dropped
    (returns -1) rather than stacking a second copy on top. With `lease_owner` (the
    daemon) the write is also fenced on still holding the inbox's lease: a daemon whose
    lease expired while it walked must not write over the one that took the inbox over.
    """
    # Row building (hashes, codes) happens before the write lock is taken, not under it.
    job = _WalkJob(
        inbox_id=inbox.id,
        params={"w_id": inbox.id, "w_top": inbox.top_seq, "w_new_top": inbox.top_seq + len(new_rows),
                "w_added": len(new_rows), "w_polled": polled_at, "w_owner": lease_owner},
        update=(bool(new_rows), truncated or gap, lease_owner is not None),
        values=message_values(inbox, new_rows, polled_at, gap=gap) if new_rows else [],
        narrow=[
            {"n_id": n.message_id, "n_min": n.earliest, "n_max": n.latest, "n_mid": midpoint(n.earliest, n.latest)}
            for n in narrowings
        ],
        added=len(new_rows),
        future=asyncio.get_running_loop().create_future(),
    )  # fmt: skip
    committer = _committer(engines)
    committer.pending.append(job)
    # Group commit: whoever holds the lock writes every walk that is ready by then in ONE
    # transaction; the others find their result already set when their turn comes.
    async with committer.lock:
        if not job.future.done():
            batch, committer.pending = committer.pending, []
            await _commit(engines, committer, batch, job)
    return job.future.result()


@dataclass(slots=True)
class _WalkJob:
    inbox_id: int
    params: dict[str, Any]
    update: tuple[bool, bool, bool]  # the `_walk_update` variant
    values: list[dict[str, Any]]
    narrow: list[dict[str, Any]]
    added: int
    future: asyncio.Future[int]


@dataclass(slots=True)
class _Committer:
    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: list[_WalkJob] = field(default_factory=list)
    unindexed: int = 0  # rows this writer queued for the search index since it last indexed


_COMMITTERS: weakref.WeakKeyDictionary[Any, _Committer] = weakref.WeakKeyDictionary()


def _committer(engines: Engines) -> _Committer:
    """The group committer of this writer engine in the running event loop."""
    loop = asyncio.get_running_loop()
    committer = _COMMITTERS.get(engines.writer.sync_engine)
    if committer is None or committer.loop is not loop:
        committer = _COMMITTERS[engines.writer.sync_engine] = _Committer(loop)
    return committer


async def _commit(engines: Engines, committer: _Committer, batch: list[_WalkJob], own: _WalkJob) -> None:
    """Write `batch` in one transaction and set each walk's result.

    Each walk keeps its own semantics: its fenced UPDATE decides whether its rows go in
    (-1 = stale, nothing of it written), and walks are applied in arrival order, so of
    two walks of one inbox only the first can pass its fence. One transaction for the
    batch keeps every walk all-or-nothing. If the batch fails, each walk is retried
    alone so one bad walk cannot sink the others.
    """
    try:
        results = await _write_walks(engines, batch, committer)
    except asyncio.CancelledError:
        # The writing walk was cancelled: the others go back in the queue, untouched.
        committer.pending[:0] = [j for j in batch if j is not own and not j.future.done()]
        raise
    except Exception as exc:
        if len(batch) == 1:
            own.future.set_exception(exc)
            return
        for job in batch:
            try:
                (result,) = await _write_walks(engines, [job], committer)
            except asyncio.CancelledError:
                committer.pending[:0] = [j for j in batch if j is not own and not j.future.done()]
                raise
            except Exception as one_exc:  # noqa: BLE001 - handed to the walk it belongs to
                job.future.set_exception(one_exc)
            else:
                job.future.set_result(result)
        return
    for job, result in zip(batch, results, strict=True):
        job.future.set_result(result)


# On SQLite the search index is filled in bulk (search.py): once INDEX_EVERY rows are
# queued, the walks' transaction that reaches it also indexes them.
INDEX_EVERY = 5_000


async def _write_walks(
    engines: Engines, batch: Sequence[_WalkJob], committer: _Committer
) -> list[int]:
    if engines.dialect == "sqlite":
        index = committer.unindexed + sum(len(job.values) for job in batch) >= INDEX_EVERY
        async with engines.writer.connect() as conn:
            done = await run_on_driver_thread(
                conn, partial(_write_walks_sqlite, batch, index=index)
            )
        if done is not NOT_AVAILABLE:
            outcome, inserted = cast("tuple[list[int], int]", done)
            committer.unindexed = 0 if index else committer.unindexed + inserted
            return outcome
    results: list[int] = []
    rows: list[dict[str, Any]] = []
    narrow: list[dict[str, Any]] = []
    async with engines.writer.begin() as conn:
        for job in batch:
            # The inbox row is updated only if its top_seq is still what the walk started
            # from (a fenced write instead of a re-read).
            fenced = await conn.execute(_walk_update(*job.update), job.params)
            if fenced.rowcount != 1:
                results.append(-1)  # stale: nothing of this walk is written
                continue
            rows += job.values
            narrow += job.narrow
            results.append(job.added)
        if rows:
            await insert_messages(conn, engines.dialect, rows)  # one executemany per batch
        if narrow:
            await conn.execute(_NARROW, narrow)  # one executemany, not one UPDATE per row
    if engines.dialect == "sqlite":  # (without the driver-thread path) keep the index queue short too
        committer.unindexed += len(rows)
        if committer.unindexed >= INDEX_EVERY:
            await index_queued(engines)
            committer.unindexed = 0
    return results


def _write_walks_sqlite(
    batch: Sequence[_WalkJob], con: sqlite3.Connection, *, index: bool
) -> tuple[list[int], int]:
    """`_write_walks` as one function on the driver's thread (sqlite_direct.py says why):
    the same statements and fences; returns the results and the rows inserted."""

    def body(cur: sqlite3.Cursor) -> tuple[list[int], int]:
        results: list[int] = []
        rows: list[tuple[Any, ...]] = []
        narrow: list[tuple[Any, ...]] = []
        insert, narrow_stmt = _sqlite_insert(), _sqlite_narrow()
        for job in batch:
            update = _sqlite_walk_update(*job.update)
            cur.execute(update.sql, update.args(job.params))
            if cur.rowcount != 1:
                results.append(-1)
                continue
            rows += [insert.args(v) for v in job.values]
            narrow += [narrow_stmt.args(n) for n in job.narrow]
            results.append(job.added)
        inserted = _insert_rows_sqlite(cur, rows)
        if narrow:
            cur.executemany(narrow_stmt.sql, narrow)
        if index:
            index_queued_sync(cur.execute)
        return results, inserted

    return transaction(con, body)


@lru_cache(maxsize=1)
def _sqlite_insert() -> Positional:
    return positional(INSERT["sqlite"](Message).on_conflict_do_nothing(), MESSAGE_KEYS)


def _insert_rows_sqlite(cur: sqlite3.Cursor, rows: Sequence[tuple[Any, ...]]) -> int:
    """`insert_messages` of `_sqlite_insert` tuples; returns the rows inserted.

    Multi-row VALUES, not executemany: sqlite3 releases the GIL around every step, and
    getting it back from an event loop busy parsing pages cost ~80 µs per row.
    """
    inserted = 0
    for i in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[i : i + _ROWS_PER_INSERT]
        cur.execute(_sqlite_insert_many(len(chunk)), [v for row in chunk for v in row])
        inserted += max(cur.rowcount, 0)
    return inserted


_ROWS_PER_INSERT = 64  # 64 rows x 14 columns stays under old SQLite's 999-parameter limit


@lru_cache(maxsize=_ROWS_PER_INSERT)
def _sqlite_insert_many(rows: int) -> str:
    """`_sqlite_insert` for `rows` rows in one statement (one step, one GIL round trip)."""
    head, _, tail = _sqlite_insert().sql.partition(" VALUES ")
    one, _, conflict = tail.partition(") ")
    return f"{head} VALUES {', '.join([one + ')'] * rows)} {conflict}"


@lru_cache(maxsize=1)
def _sqlite_narrow() -> Positional:
    return positional(_NARROW)


@lru_cache(maxsize=8)
def _sqlite_walk_update(new_rows: bool, truncated: bool, leased: bool) -> Positional:
    return positional(_walk_update(new_rows, truncated, leased))


_TIME = Message.__table__.c.received_at.type
_NARROW = (
    update(Message)
    .where(Message.id == bindparam("n_id"))
    .values(
        received_at_min=bindparam("n_min", type_=_TIME),
        received_at_max=bindparam("n_max", type_=_TIME),
        received_at=bindparam("n_mid", type_=_TIME),
    )
)


@lru_cache(maxsize=4)
def _walk_update(new_rows: bool, truncated: bool, leased: bool = False) -> Any:
    """The inbox-state UPDATE of `store_walk`, fenced on top_seq; built once per variant."""
    changes: dict[str, Any] = {
        "walk_complete": True,
        "last_polled_at": bindparam("w_polled", type_=_TIME),
        # A walk proves the inbox readable again, but a number that left the listing
        # stays `gone` until a listing shows it again.
        # (== .. OR, not IN: an IN list is an "expanding" parameter sqlite_direct cannot compile)
        "status": case(
            (or_(Number.status == "gated", Number.status == "challenged"), "active"),
            else_=Number.status,
        ),
        "failures": 0,
        "top_seq": bindparam("w_new_top"),
        "message_count": Number.message_count + bindparam("w_added"),
    }
    if new_rows:
        changes["last_new_at"] = bindparam("w_polled", type_=_TIME)
    if truncated:
        changes["history_truncated"] = True
    stmt = update(Number).where(Number.id == bindparam("w_id"), Number.top_seq == bindparam("w_top"))
    if leased:
        stmt = stmt.where(Number.lease_owner == bindparam("w_owner"))
    return stmt.values(**changes)


async def set_inbox_status(engines: Engines, number_id: int, status: str, polled_at: datetime) -> None:
    async with engines.writer.begin() as conn:
        await conn.execute(
            update(Number)
            .where(Number.id == number_id)
            .values(status=status, last_polled_at=polled_at, failures=Number.failures + 1)
        )


async def start_run(engines: Engines, kind: str, started_at: datetime) -> int:
    async with engines.writer.begin() as conn:
        result = await conn.execute(
            INSERT[engines.dialect](CrawlRun)
            .values(
                kind=kind,
                started_at=started_at,
                requests=0,
                retries=0,
                new_numbers=0,
                new_messages=0,
                inboxes_polled=0,
                empty_polls=0,
                gated=0,
                challenged=0,
                errors=0,
                status="running",
            )
            .returning(CrawlRun.id)
        )
        return int(result.scalar_one())


async def finish_run(engines: Engines, run_id: int, finished_at: datetime, status: str, **figures: object) -> None:
    async with engines.writer.begin() as conn:
        await conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(finished_at=finished_at, status=status, **figures)
        )


async def message_total(engines: Engines) -> int:
    async with engines.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Message))).scalar_one())
