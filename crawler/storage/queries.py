"""Read-only queries over the archive, for the CLI readers, exports and the API.

Everything reads through `Engines.reader` (on SQLite a separate pool that never blocks
the writer under WAL). Every value is a bound parameter. Counts come from the `messages`
table itself, not from the crawler's bookkeeping columns, so they are what an export gives.

Case-insensitive search: SQLite's LIKE and lower() fold ASCII only, so on SQLite we
register a `crawler_casefold()` SQL function (Python's str.casefold) on the connection and
compare casefolded text; `ÄRZTE` then finds `ärzte` on both backends (PostgreSQL: lower()).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from crawler.errors import CountryLookupError, NumberFormatError, NumberLookupError
from crawler.storage.db import Engines
from crawler.storage.models import Country, Message, Number
from crawler.storage.types import to_iso

PAGE_SIZE = 10  # the site's (and its API's) inbox page size
HISTORY_BATCH = 2000
_CASEFOLD = "crawler_casefold"


@dataclass(frozen=True, slots=True)
class CountrySummary:
    slug: str
    name: str
    calling_code: str | None
    status: str
    numbers: int
    messages: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class NumberSummary:
    id: int  # numbers.id: one inbox (a number recycled by the site gets a second inbox)
    number: str  # E.164 digits without '+'
    sms_id: int
    country: str  # slug
    location: str | None
    inbox_url: str
    status: str
    messages: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class MessageItem:
    seq: int
    sender: str
    body: str
    received_at: datetime | None
    received_at_min: datetime | None
    received_at_max: datetime | None
    received_text: str
    first_seen_at: datetime
    code: str | None
    service: str | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    number: NumberSummary
    items: list[MessageItem]
    page: int
    total_pages: int  # at least 1, so "page 1 of 1" holds for an empty inbox
    total: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    number: str
    country: str
    message: MessageItem


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One exported message; field order is the export's column order."""

    number: str
    country: str
    sender: str
    received_at: datetime | None
    received_at_min: datetime | None
    received_at_max: datetime | None
    received_text: str
    body: str
    first_seen_at: datetime
    code: str | None
    service: str | None


def _message_count() -> Any:
    return (
        select(Message.number_id, func.count().label("n"))
        .group_by(Message.number_id)
        .subquery("message_counts")
    )


async def list_countries(engines: Engines) -> list[CountrySummary]:
    """Every archived country with its number and message counts, by slug."""
    counts = _message_count()
    per_number = (
        select(
            Number.country_id,
            func.count(Number.id).label("numbers"),
            func.coalesce(func.sum(counts.c.n), 0).label("messages"),
        )
        .outerjoin(counts, counts.c.number_id == Number.id)
        .group_by(Number.country_id)
        .subquery("per_country")
    )
    stmt = (
        select(
            Country.slug, Country.name, Country.calling_code, Country.status,
            func.coalesce(per_number.c.numbers, 0), func.coalesce(per_number.c.messages, 0),
            Country.first_seen_at, Country.last_seen_at,
        )  # fmt: skip
        .outerjoin(per_number, per_number.c.country_id == Country.id)
        .order_by(Country.slug)
    )
    async with engines.reader.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        CountrySummary(
            slug=r[0], name=r[1], calling_code=r[2], status=r[3], numbers=int(r[4]),
            messages=int(r[5]), first_seen_at=r[6], last_seen_at=r[7],
        )  # fmt: skip
        for r in rows
    ]


def _numbers_select() -> Select[Any]:
    # A correlated count per inbox (served by the (number_id, seq) index): a GROUP BY over
    # every message would cost ~50 ms per lookup on a million-row archive.
    count = select(func.count()).where(Message.number_id == Number.id).correlate(Number).scalar_subquery()
    return (
        select(
            Number.id,
            Number.number,
            Number.sms_id,
            Country.slug,
            Number.location,
            Number.inbox_url,
            Number.status,
            count,
            Number.first_seen_at,
            Number.last_seen_at,
        )
        .join(Country, Country.id == Number.country_id)
    )


def _number(row: Any) -> NumberSummary:
    return NumberSummary(
        id=row[0], number=row[1], sms_id=row[2], country=row[3], location=row[4],
        inbox_url=row[5], status=row[6], messages=int(row[7]),
        first_seen_at=row[8], last_seen_at=row[9],
    )  # fmt: skip


async def list_numbers(engines: Engines, country: str | None = None) -> list[NumberSummary]:
    """Every archived inbox (of one country slug if given), by country then number."""
    stmt = _numbers_select().order_by(Country.slug, Number.number, Number.sms_id)
    async with engines.reader.connect() as conn:
        if country is not None:
            found = await conn.execute(select(Country.id).where(Country.slug == country))
            if found.first() is None:
                known = (await conn.execute(select(Country.slug).order_by(Country.slug))).scalars()
                raise CountryLookupError(country, list(known))
            stmt = stmt.where(Country.slug == country)
        return [_number(r) for r in (await conn.execute(stmt)).all()]


def parse_number(text: str) -> str:
    """E.164 digits of a NUMBER argument, or NumberFormatError naming the allowed forms."""
    from crawler.sites.smstome import normalise_number  # the site module owns the rule

    try:
        return normalise_number(text)
    except ValueError:
        raise NumberFormatError(text) from None


async def find_number(
    engines: Engines, text: str, *, sms_id: int | None = None, country: str | None = None
) -> NumberSummary:
    """The archived inbox of a NUMBER; of several inboxes (recycled number) the latest seen.

    `sms_id` / `country` (the API's parameters) narrow the choice.
    """
    digits = parse_number(text)
    stmt = _numbers_select().where(Number.number == digits)
    if sms_id is not None:
        stmt = stmt.where(Number.sms_id == sms_id)
    if country is not None:
        stmt = stmt.where(Country.slug == country)
    stmt = stmt.order_by(Number.last_seen_at.desc(), Number.id.desc()).limit(1)
    async with engines.reader.connect() as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        raise NumberLookupError("+" + digits)
    return _number(row)


ITEM_COLUMNS = (
    Message.seq, Message.sender, Message.body, Message.received_at, Message.received_at_min,
    Message.received_at_max, Message.received_text, Message.first_seen_at, Message.code,
    Message.service,
)  # fmt: skip


def item(row: Any) -> MessageItem:
    return MessageItem(*row[: len(ITEM_COLUMNS)])


async def messages_page(engines: Engines, number: NumberSummary, page: int = 1) -> MessagePage:
    """Page `page` (1-based) of an inbox, newest first; past the end gives no items."""
    if page < 1:
        raise ValueError("page must be >= 1")
    stmt = (
        select(*ITEM_COLUMNS)
        .where(Message.number_id == number.id)
        .order_by(Message.seq.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    async with engines.reader.connect() as conn:
        total = int(
            (
                await conn.execute(select(func.count()).where(Message.number_id == number.id))
            ).scalar_one()
        )
        items = [item(r) for r in (await conn.execute(stmt)).all()]
    total_pages = max(1, math.ceil(total / PAGE_SIZE))
    return MessagePage(number=number, items=items, page=page, total_pages=total_pages, total=total)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with \\, % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def register_casefold(sync_conn: Connection) -> None:
    raw: Any = sync_conn.connection.dbapi_connection
    raw.create_function(_CASEFOLD, 1, _casefold, deterministic=True)


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def contains(conn: AsyncConnection, column: Any, text: str) -> ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        folded = func.__getattr__(_CASEFOLD)(column)
        return folded.like(literal(like_pattern(text.casefold())), escape="\\")
    return func.lower(column).like(func.lower(literal(like_pattern(text))), escape="\\")


async def search(
    engines: Engines,
    query: str,
    *,
    number: str | None = None,
    sender: str | None = None,
    service: str | None = None,
    has_code: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[SearchHit]:
    """Messages whose sender or body contains `query` (case-insensitive), newest first.

    `number` limits to that number's inboxes (NumberLookupError when not archived);
    `sender` keeps messages whose sender contains it (case-insensitive too); `service`
    is compared case-insensitively; `has_code` keeps messages with (True) or without
    (False) a code; `since`/`until` bound received_at. The plan (full-text index or
    scan) is `crawler.storage.search`'s business.
    """
    from crawler.storage.search import Filters, search_messages  # search imports us

    number_ids: tuple[int, ...] | None = None
    if number is not None:
        digits = (await find_number(engines, number)).number
        async with engines.reader.connect() as conn:
            found = await conn.execute(select(Number.id).where(Number.number == digits))
            number_ids = tuple(found.scalars())
    filters = Filters(
        number_ids=number_ids, sender=sender, service=service, has_code=has_code, since=since, until=until
    )
    return await search_messages(engines, query, filters, limit=limit, offset=offset)


def iter_history(
    engines: Engines,
    number_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HistoryRows:
    """An inbox's messages oldest first (seq ASC), `since <= received_at <= until`.

    Keyset pagination in batches of HISTORY_BATCH: memory stays constant and no
    connection or read transaction is held between batches, so an abandoned iterator
    leaks nothing and a long export never pins an old WAL snapshot. With since/until,
    messages whose time is unknown (NULL) are left out: they cannot be placed.

    Iterate it for `HistoryRow`s; the exporters read `cell_batches()` instead.
    """
    return HistoryRows(engines, number_id, since, until)


_TIME_COLUMNS = (Message.received_at, Message.received_at_min, Message.received_at_max, Message.first_seen_at)


def iso_cell(value: datetime | None) -> str | None:
    """ISO-8601 UTC as exported (`...T12:00:00+00:00`, microseconds only when non-zero)."""
    return None if value is None else value.astimezone(UTC).isoformat()


def _iso_from_stored(text: str | None) -> str | None:
    """`iso_cell` of a time as SQLite stores it, without building a datetime for the
    canonical form (`2026-06-01T12:00:00.000000+00:00`)."""
    if text is None:
        return None
    if len(text) == 32 and text[19] == "." and text.endswith("+00:00"):
        return text[:19] + "+00:00" if text[20:26] == "000000" else text
    return iso_cell(datetime.fromisoformat(text))


def _sqlite_cells(row: Sequence[Any]) -> tuple[str | None, ...]:
    """The 11 export cells of a `_sqlite_history()` row (times finished here unless `ok`)."""
    if row[12]:
        return tuple(row[1:12])
    return (
        row[1], row[2], row[3], *map(_iso_from_stored, row[4:7]), row[7], row[8],
        _iso_from_stored(row[9]), row[10], row[11],
    )  # fmt: skip


# Characters that make a spreadsheet run a cell (crawler.export neutralises them).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# The archive's one text form of an instant (types.to_iso), as GLOB patterns: a GLOB
# checks every separator and costs less per row than the substr() calls it replaced.
_CANONICAL = "????-??-??T??:??:??.??????+00:00"
_WHOLE_SECOND = _CANONICAL.replace("??????", "000000")


def _has_form(col: Any, form: str) -> ColumnElement[bool]:
    return cast("ColumnElement[bool]", col.op("GLOB")(literal(form, String())))


def _canonical(col: Any) -> ColumnElement[bool]:
    """Is this stored time in the archive's one text form, `...T12:00:00.000000+00:00`?"""
    return _has_form(col, _CANONICAL)


def _whole_second(col: Any) -> Any:
    return func.substr(col, 1, 19).concat("+00:00")  # as iso_cell prints it: no ".000000"


def _export_time(col: Any) -> Any:
    """The stored text as `iso_cell` would print it (zero microseconds dropped), by SQLite."""
    return case((_has_form(col, _WHOLE_SECOND), _whole_second(col)), else_=col)


def _may_be_formula(col: Any) -> ColumnElement[bool]:
    return func.substr(col, 1, 1).in_(FORMULA_START)


def _csv_time(col: Any) -> Any:
    """A stored time as its CSV cell (`_export_time`), or NULL (Python finishes the row)
    where it lacks the canonical form: NULL makes the whole line NULL."""
    return case(
        (col.is_(None), ""),
        (_has_form(col, _WHOLE_SECOND), _whole_second(col)),  # most stored times: one GLOB
        (_canonical(col), col),
        else_=None,
    )


def _csv_text(col: Any, neutralise: bool) -> Any:
    """A text cell as the csv module writes it (QUOTE_MINIMAL, `\\r\\n` line ends), after
    `crawler.export.neutralise` if `neutralise`, or NULL where only Python can tell: a
    cell starting with `+` that holds a non-ASCII character (neutralise's `\\d` takes any
    script's digits). The `'` prefix changes no quoting decision, so quoting looks at
    the cell itself. Each branch is evaluated only when taken."""
    prefix: Any = literal("")
    if neutralise:
        ascii_phone = and_(
            func.length(col).between(7, 16), ~func.substr(col, 2).op("GLOB")("*[^0-9]*")
        )
        plus = case((ascii_phone, ""), (col.op("GLOB")("*[^ -~]*"), None), else_="'")
        prefix = case(  # CASE x WHEN ..: the first character is taken once
            {c: plus if c == "+" else "'" for c in FORMULA_START}, value=func.substr(col, 1, 1), else_=""
        )
    special = or_(*(func.instr(col, c) > 0 for c in (",", '"', "\r", "\n")))  # (cheaper than a GLOB)
    quoted = literal('"').concat(prefix).concat(func.replace(col, '"', '""')).concat('"')
    return case((col.is_(None), ""), (special, quoted), else_=prefix.concat(col))


_TEXT_COLUMNS = (
    Number.number, Country.slug, Message.sender, Message.received_text, Message.body, Message.code,
    Message.service,
)  # fmt: skip

# The export's SQLite query (see `HistoryRows.cell_batches`): each stored time made
# export-ready by SQLite where it has the canonical form; then `ok` = 1 when all four
# times had that form, and `hot` = 1 when a text cell may start with a formula character
# (the times never do: they start with a digit). Built with SQLAlchemy and rendered once
# (its constants inline, on first use: not at every command's start-up); the caller adds
# only fixed `WHERE ... ?` pieces.
@lru_cache(maxsize=1)
def _sqlite_history() -> str:
    return str(
        select(
            Message.seq, Number.number, Country.slug, Message.sender,
            *(_export_time(c) for c in _TIME_COLUMNS[:3]), Message.received_text, Message.body,
            _export_time(_TIME_COLUMNS[3]), Message.code, Message.service,
            and_(*(or_(c.is_(None), _canonical(c)) for c in _TIME_COLUMNS)),
            or_(*(_may_be_formula(c) for c in _TEXT_COLUMNS)),
        )  # fmt: skip
        .select_from(Message)
        .join(Number, Number.id == Message.number_id)
        .join(Country, Country.id == Number.country_id)
        .compile(dialect=sqlite_dialect(), compile_kwargs={"literal_binds": True})
    )


@lru_cache(maxsize=2)
def _sqlite_csv(raw: bool) -> str:
    """The CSV export's SQLite query: seq, and the row's CSV line from its third cell on
    (the number and country are the inbox's, written once by the caller), as
    `crawler.export.write_csv` writes it; or NULL where Python must finish the row (odd
    stored times, see `_csv_time` and `_csv_text`). One string per row instead of
    eleven cells, no join and no Python per row: the export's fastest path."""
    cells = [
        Message.sender, *_TIME_COLUMNS[:3], Message.received_text, Message.body, _TIME_COLUMNS[3], Message.code,
        Message.service,
    ]  # fmt: skip
    line: Any = None
    for col in cells:
        cell = _csv_time(col) if any(col is t for t in _TIME_COLUMNS) else _csv_text(col, not raw)
        line = cell if line is None else line.concat(",").concat(cell)
    stmt = select(Message.seq, line.concat("\r\n")).select_from(Message)
    return str(stmt.compile(dialect=sqlite_dialect(), compile_kwargs={"literal_binds": True}))


_SQLITE_INBOX_CELLS = str(
    select(Number.number, Country.slug)
    .join(Country, Country.id == Number.country_id)
    .where(Number.id == bindparam("number_id"))
    .compile(dialect=sqlite_dialect(paramstyle="qmark"))
)


class HistoryRows:
    """`iter_history`'s result: an async iterator of HistoryRow, plus the export's fast
    path `cell_batches()` (rows as export cells, times as text, no object per row)."""

    def __init__(self, engines: Engines, number_id: int, since: datetime | None, until: datetime | None) -> None:
        self._engines = engines
        self._number_id = number_id
        self._since = since
        self._until = until
        self._iter: AsyncIterator[HistoryRow] | None = None

    def __aiter__(self) -> HistoryRows:
        return self

    async def __anext__(self) -> HistoryRow:
        if self._iter is None:
            self._iter = self._rows()
        return await self._iter.__anext__()

    async def aclose(self) -> None:
        if self._iter is not None:
            await self._iter.aclose()  # type: ignore[attr-defined]

    async def _rows(self) -> AsyncIterator[HistoryRow]:
        columns = (
            Number.number, Country.slug, Message.sender, Message.received_at,
            Message.received_at_min, Message.received_at_max, Message.received_text,
            Message.body, Message.first_seen_at, Message.code, Message.service,
        )  # fmt: skip
        async for rows in self._batches(columns):
            for row in rows:
                yield HistoryRow(*row[1:])

    async def cell_batches(self) -> AsyncIterator[tuple[list[tuple[str | None, ...]], list[int]]]:
        """Batches of (rows as the export's cells in HEADER order with times as ISO text,
        indexes of the rows that may hold a cell starting with a formula character)."""
        if self._engines.dialect != "sqlite":
            columns = (
                Number.number, Country.slug, Message.sender, *_TIME_COLUMNS[:3], Message.received_text,
                Message.body, _TIME_COLUMNS[3], Message.code, Message.service,
            )  # fmt: skip
            async for rows in self._batches(columns):
                fix = iso_cell
                cells: list[tuple[str | None, ...]] = [
                    (n, c, s, fix(t1), fix(t2), fix(t3), text, body, fix(t4), code, svc)
                    for _, n, c, s, t1, t2, t3, text, body, t4, code, svc in rows
                ]
                yield cells, list(range(len(cells)))
            return
        # SQLite: the stored ISO text, made export-ready by SQLite itself (on the reader's
        # thread) where it has the canonical form; `ok` = 1 when all four times had it, so
        # no datetime is built per row. `hot` flags rows whose text cells may need
        # neutralising (the times never do: they start with a digit).
        async for rows in self._sqlite_batches():
            yield [_sqlite_cells(row) for row in rows], [i for i, row in enumerate(rows) if row[13]]

    @property
    def csv_ready(self) -> bool:
        """Whether `csv_batches` can be used (SQLite)."""
        return self._engines.dialect == "sqlite"

    async def inbox_cells(self) -> tuple[str | None, str | None]:
        """The number and country cells, the same on every row of this inbox."""
        for number, slug in await _driver_rows(self._engines, _SQLITE_INBOX_CELLS, [self._number_id]):
            return number, slug
        return None, None

    async def csv_batches(self, raw: bool) -> AsyncIterator[tuple[list[str | tuple[str | None, ...]], list[int]]]:
        """SQLite: batches of (CSV lines from the third cell on, or all 11 cells where
        Python must finish the row; indexes of the cell rows that may need neutralising).
        See `_sqlite_csv` and `inbox_cells`."""
        async for rows in self._sqlite_batches(_sqlite_csv(raw)):
            batch: list[str | tuple[str | None, ...]] = [line for _, line in rows]
            hot: list[int] = []
            unfinished = {seq: i for i, (seq, line) in enumerate(rows) if line is None}
            if unfinished:  # rare: odd stored times, or a `+` cell only Python can judge
                for row in await self._sqlite_rows_by_seq(list(unfinished)):
                    i = unfinished[row[0]]
                    batch[i] = _sqlite_cells(row)
                    if row[13]:
                        hot.append(i)
            yield batch, hot

    async def _sqlite_rows_by_seq(self, seqs: list[int]) -> list[Any]:
        """The cells query's rows of this inbox with these seqs."""
        found: list[Any] = []
        for i in range(0, len(seqs), 500):  # under old SQLite's 999-parameter limit
            part = seqs[i : i + 500]
            sql = _sqlite_history() + " WHERE messages.number_id = ? AND messages.seq IN (" + ", ".join("?" * len(part)) + ")"
            found += await _driver_rows(self._engines, sql, [self._number_id, *part])
        return found

    async def _sqlite_batches(self, head: str | None = None) -> AsyncIterator[Sequence[Any]]:
        """`_batches` of the export's SQLite `head` query, read through the driver: the
        same keyset pages without SQLAlchemy's per-row result objects. (Reading seq ranges
        on several connections at once was slower: each has its own cold page cache.)"""
        where = ["messages.number_id = ?"]
        params: list[Any] = [self._number_id]
        if self._since is not None:
            where.append("messages.received_at >= ?")
            params.append(to_iso(self._since))
        if self._until is not None:
            where.append("messages.received_at <= ?")
            params.append(to_iso(self._until))
        order = " ORDER BY messages.seq LIMIT ?"
        head = head or _sqlite_history()
        first = head + " WHERE " + " AND ".join(where) + order
        more = head + " WHERE " + " AND ".join([*where, "messages.seq > ?"]) + order

        async def fetch(after: int | None) -> Sequence[Any]:
            sql, args = (first, [*params]) if after is None else (more, [*params, after])
            return await _driver_rows(self._engines, sql, [*args, HISTORY_BATCH])

        async for rows in _prefetched(fetch):
            yield rows

    async def _batches(self, columns: tuple[Any, ...]) -> AsyncIterator[Sequence[Any]]:
        stmt = (
            select(Message.seq, *columns)
            .join(Number, Number.id == Message.number_id)
            .join(Country, Country.id == Number.country_id)
            .where(Message.number_id == self._number_id)
            .order_by(Message.seq)
            .limit(HISTORY_BATCH)
        )
        if self._since is not None:
            stmt = stmt.where(Message.received_at >= self._since)
        if self._until is not None:
            stmt = stmt.where(Message.received_at <= self._until)

        async def fetch(after: int | None) -> Sequence[Any]:
            async with self._engines.reader.connect() as conn:
                return (await conn.execute(stmt if after is None else stmt.where(Message.seq > after))).all()

        async for rows in _prefetched(fetch):
            yield rows


async def _driver_rows(engines: Engines, sql: str, params: Sequence[Any]) -> list[Any]:
    """`sql` on a reader connection straight through the driver (SQLite): plain tuples,
    no SQLAlchemy result object per row (the export reads millions)."""
    async with engines.reader.connect() as conn:
        raw = await conn.get_raw_connection()
        return list(await raw.driver_connection.execute_fetchall(sql, params))  # type: ignore[union-attr]


async def _prefetched(fetch: Callable[[int | None], Awaitable[Sequence[Any]]]) -> AsyncIterator[Sequence[Any]]:
    """Keyset batches (`fetch(after_seq)`, rows start with seq), the next one read on the
    reader's thread while the caller handles this one; each read takes and returns its
    own connection, and an abandoned iteration drops the read in flight."""
    task: asyncio.Task[Sequence[Any]] | None = asyncio.ensure_future(fetch(None))
    try:
        while task is not None:
            rows = await task
            task = None
            if len(rows) >= HISTORY_BATCH:
                task = asyncio.ensure_future(fetch(rows[-1][0]))
            yield rows
    finally:
        if task is not None:
            task.cancel()
