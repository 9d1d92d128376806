"""Archive-wide search (`crawler search`, `/search_messages`) that stays fast at a million rows.

The answer is always the same: messages whose sender or body contains the query,
case-insensitively (Python's str.casefold on SQLite, lower() on PostgreSQL), newest first.
The index only narrows the rows that predicate is evaluated on, so index and scan agree:

- SQLite: `messages_fts`, a contentless FTS5 table with the trigram tokenizer
  (case_sensitive 0, detail=none; migration 0002). A query of 3+ characters becomes an
  AND of its trigrams: a superset of the true matches, which the exact predicate then
  filters. The index holds `fold(text)`, which spells ß/ẞ as ss and ς as σ, the full
  case foldings the tokenizer's simple folding lacks.
  New rows are not indexed one by one: a trigger queues their ids in
  `messages_fts_pending` (migration 0003) and `index_queued` moves them into the index
  in bulk, about ten times cheaper per row than FTS5's flush at every small commit.
  Every queued row is a candidate too, so the answer never waits for the index.
- PostgreSQL: pg_trgm GIN indexes on lower(body) and lower(sender) serve the
  `lower(col) LIKE '%...%'` predicate directly.

A common word ("code") matches half the archive, and sorting half a million index hits
by time is slow. So on SQLite the newest WINDOW rows are probed first: if they already
hold the page asked for, that is the answer (the window is a prefix of the order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crawler.storage import queries as q
from crawler.storage.db import Engines
from crawler.storage.models import Country, Message, Number

log = logging.getLogger(__name__)

FTS_TABLE = "messages_fts"
QUEUE_TABLE = "messages_fts_pending"  # ids of rows not yet in FTS_TABLE (migration 0003)
INDEX_BATCH = 20_000  # queued rows indexed per transaction: short enough not to stall writers
MIN_FTS_CHARS = 3  # the trigram tokenizer cannot answer shorter queries
MAX_TRIGRAMS = 12  # more only narrows an already small candidate set
WINDOW = 4000  # newest rows probed before asking the index (see the module docstring)
MAX_QUERY = 200
_FOLD = (("ß", "ss"), ("ẞ", "ss"), ("ς", "σ"))  # same replace() chain as migration 0002


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrowing of a search; None means "any"."""

    number_ids: tuple[int, ...] | None = None
    sender: str | None = None  # sender contains this (case-insensitive)
    service: str | None = None  # service equals this (case-insensitive)
    has_code: bool | None = None
    since: datetime | None = None  # received_at >= since
    until: datetime | None = None  # received_at <= until
    seqs: tuple[int, int] | None = None  # lowest, highest seq (one inbox's pages; with number_ids)


def fold(value: str) -> str:
    for old, new in _FOLD:
        value = value.replace(old, new)
    return value


def _sql_fold(expr: str) -> str:
    """SQL spelling of `fold`, as migrations 0002/0003 index rows."""
    for old, new in _FOLD:
        expr = f"replace({expr}, '{old}', '{new}')"
    return expr


# Index the oldest queued rows up to id :hi, then dequeue them (in one write transaction).
_QUEUE_BOUND = f"SELECT max(id) FROM (SELECT id FROM {QUEUE_TABLE} ORDER BY id LIMIT ?)"
_INDEX_QUEUED = (
    f"INSERT INTO {FTS_TABLE}(rowid, body, sender) SELECT m.id, {_sql_fold('m.body')}, {_sql_fold('m.sender')} "
    f"FROM messages m WHERE m.id IN (SELECT id FROM {QUEUE_TABLE} WHERE id <= ?)"
)
_DEQUEUE = f"DELETE FROM {QUEUE_TABLE} WHERE id <= ?"


def index_queued_sync(execute: Callable[[str, tuple[Any, ...]], Any], limit: int = INDEX_BATCH) -> int:
    """Index up to `limit` queued rows, inside a write transaction (SQLite only); returns
    how many were dequeued. `execute(sql, params)` is a DB-API `cursor.execute` or, under
    SQLAlchemy, `Connection.exec_driver_sql`: both results have fetchone() and rowcount."""
    hi = execute(_QUEUE_BOUND, (limit,)).fetchone()[0]
    if hi is None:
        return 0
    execute(_INDEX_QUEUED, (hi,))
    return int(execute(_DEQUEUE, (hi,)).rowcount)


async def index_queued(engines: Engines, *, batch: int = INDEX_BATCH) -> int:
    """Bring the search index up to date (SQLite; a no-op elsewhere); returns rows indexed.

    Search is exact without it; this keeps the queue, which every search scans, short.
    """
    if engines.dialect != "sqlite":
        return 0
    total = 0
    while True:
        async with engines.writer.begin() as conn:
            done = await conn.run_sync(lambda sync: index_queued_sync(sync.exec_driver_sql, batch))
        if not done:
            return total
        total += done


def fts_match(query: str) -> str | None:
    """An FTS5 MATCH expression whose hits include every true match, or None if too short."""
    folded = fold(query).casefold()
    grams = list(dict.fromkeys(folded[i : i + 3] for i in range(len(folded) - 2)))
    if not grams:
        return None
    if len(grams) > MAX_TRIGRAMS:  # spread the picks over the whole query
        step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
        grams = [grams[round(i * step)] for i in range(MAX_TRIGRAMS)]
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def _conditions(conn: AsyncConnection, query: str, f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query:
        where.append(or_(q.contains(conn, Message.body, query), q.contains(conn, Message.sender, query)))
    if f.number_ids is not None:
        where.append(Message.number_id.in_(f.number_ids))
    if f.seqs is not None:
        where.append(Message.seq.between(*f.seqs))
    if f.sender:
        where.append(q.contains(conn, Message.sender, f.sender))
    if f.service:
        where.append(func.lower(Message.service) == f.service.lower())
    if f.has_code is not None:
        where.append(Message.code.is_not(None) if f.has_code else Message.code.is_(None))
    if f.since is not None:
        where.append(Message.received_at >= f.since)
    if f.until is not None:
        where.append(Message.received_at <= f.until)
    return where


def _ordered(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(Message.received_at.desc().nulls_last(), Message.id.desc())


def _hits_select(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    stmt = cast(
        "Select[Any]",
        select(*q.ITEM_COLUMNS, Number.number, Country.slug)
        .join(Number, Number.id == Message.number_id)
        .join(Country, Country.id == Number.country_id)
        .where(and_(*where)),
    )
    return _ordered(stmt)


def _fts_candidates(query: str) -> ColumnElement[bool] | None:
    match = fts_match(query)
    if match is None:
        return None
    # Queued rows are not in the index yet: all of them are candidates.
    sub = text(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts_match UNION ALL SELECT id FROM {QUEUE_TABLE}"
    ).bindparams(fts_match=match)
    return Message.id.in_(sub)


def _window() -> ColumnElement[bool]:
    newest = _ordered(select(Message.id)).limit(WINDOW).subquery("newest")
    return Message.id.in_(select(newest.c.id))


async def _rows(conn: AsyncConnection, stmt: Select[Any]) -> list[q.SearchHit]:
    n = len(q.ITEM_COLUMNS)
    return [q.SearchHit(number=r[n], country=r[n + 1], message=q.item(r)) for r in (await conn.execute(stmt)).all()]


async def search_messages(
    engines: Engines, query: str, filters: Filters = Filters(), *, limit: int = 50, offset: int = 0
) -> list[q.SearchHit]:
    """Matches `offset` .. `offset + limit` in newest-first order (module docstring)."""
    async with engines.reader.connect() as conn:
        if conn.dialect.name != "sqlite":
            return await _rows(conn, _hits_select(_conditions(conn, query, filters)).limit(limit).offset(offset))
        await conn.run_sync(q.register_casefold)
        where = _conditions(conn, query, filters)
        if filters.number_ids is not None:
            # An inbox is at most thousands of rows: its own index beats any FTS plan.
            return await _rows(conn, _hits_select(where).limit(limit).offset(offset))
        if not query:
            return await _rows(conn, _hits_select(where).limit(limit).offset(offset))
        probe = await _rows(conn, _hits_select([*where, _window()]).limit(limit).offset(offset))
        if len(probe) == limit:
            return probe
        candidates = _fts_candidates(query)
        if candidates is not None:
            where.append(candidates)
        return await _rows(conn, _hits_select(where).limit(limit).offset(offset))


async def count_matches(engines: Engines, query: str, filters: Filters = Filters(), *, cap: int = 10_000) -> int:
    """How many messages match, counting at most `cap` (an exact count of a common word
    over a million rows costs seconds and tells a reader nothing more than "very many")."""
    async with engines.reader.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.run_sync(q.register_casefold)
        where = _conditions(conn, query, filters)
        if conn.dialect.name == "sqlite" and query and filters.number_ids is None:
            candidates = _fts_candidates(query)
            if candidates is not None:
                where.append(candidates)
        inner = select(literal_column("1")).select_from(Message).where(and_(*where)).limit(cap).subquery()
        return int((await conn.execute(select(func.count()).select_from(inner))).scalar_one())
