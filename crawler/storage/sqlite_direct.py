"""A whole SQLite write transaction in one trip to aiosqlite's thread.

Why: aiosqlite runs every cursor(), execute(), close(), commit() as its own trip to its
worker thread, and each answer waits until the event loop comes round to it. Under a
busy crawl the loop is parsing pages for other inboxes, so a group commit of four walks
(about twenty trips) took ~40 ms while its SQL took ~2 ms, and crawl workers spent two
thirds of their time waiting for it. Here the SQL is compiled once by SQLAlchemy (the
same statements PostgreSQL runs) and a plain function runs the whole transaction on the
driver's own thread.

This reaches into aiosqlite (`Connection._execute`, `Connection._conn`); if a release
drops them, `run_on_driver_thread` says so by returning NOT_AVAILABLE and callers take
the ordinary SQLAlchemy path (tests/test_sqlite_direct.py notices the slow path).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from crawler.storage.types import UtcDateTime, to_iso

T = TypeVar("T")
NOT_AVAILABLE: Final = object()
_DIALECT = sqlite.dialect(paramstyle="qmark")


@dataclass(frozen=True, slots=True)
class Positional:
    """A statement compiled for sqlite3: its SQL and how to order a parameter dict."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # values SQLAlchemy bound itself (literals in the statement)
    times: tuple[int, ...]  # positions of UtcDateTime parameters

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.fixed:
            return tuple(db_value(params[n] if n in params else self.fixed[n]) for n in self.names)
        # The hot path (message rows): pick the values in C, convert only the times.
        values = list(map(params.__getitem__, self.names))
        for i in self.times:
            values[i] = db_value(values[i])
        return tuple(values)


def positional(stmt: Any, keys: Sequence[str] | None = None) -> Positional:
    compiled = stmt.compile(dialect=_DIALECT, column_keys=list(keys) if keys is not None else None)
    names = tuple(compiled.positiontup or ())
    times = tuple(i for i, n in enumerate(names) if isinstance(compiled.binds[n].type, UtcDateTime))
    if "POSTCOMPILE" in compiled.string:
        raise ValueError(
            f"statement has an expanding parameter (IN list), which needs a value to compile: {compiled}"
        )
    fixed = {n: compiled.binds[n].effective_value for n in names if not compiled.binds[n].required}
    return Positional(compiled.string, names, fixed, times)


def db_value(value: Any) -> Any:
    """What UtcDateTime binds on SQLite (the archive's one text form of an instant)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        return to_iso(value)
    return value


async def run_on_driver_thread(
    conn: AsyncConnection, fn: Callable[[sqlite3.Connection], T]
) -> T | object:
    """`fn(sqlite3_connection)` on aiosqlite's thread, or NOT_AVAILABLE.

    `conn` must not be in a transaction; `fn` runs its own BEGIN .. COMMIT (the driver
    connection is in autocommit mode, see db._install_sqlite_hooks).
    """
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    execute = getattr(driver, "_execute", None)
    try:
        native = getattr(driver, "_conn", None)
    except ValueError:  # aiosqlite: "no active connection"
        return NOT_AVAILABLE
    if execute is None or not isinstance(native, sqlite3.Connection):
        return NOT_AVAILABLE
    try:
        result: T = await execute(fn, native)
    except sqlite3.Error as exc:  # what SQLAlchemy would have raised, so callers see one kind
        raise DBAPIError.instance(
            getattr(fn, "__name__", "write"), None, exc, sqlite3.Error
        ) from exc
    return result


def transaction(con: sqlite3.Connection, body: Callable[[sqlite3.Cursor], T]) -> T:
    """BEGIN IMMEDIATE, `body`, COMMIT; ROLLBACK on any failure."""
    cur = con.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        result = body(cur)
        cur.execute("COMMIT")
        return result
    except BaseException:
        if con.in_transaction:
            con.rollback()
        raise
    finally:
        cur.close()
