"""Engines and migrations for SQLite (default) and PostgreSQL.

SQLite (STACK.md §2.2-2.4): WAL, busy_timeout, synchronous=NORMAL and foreign_keys are set
on every connection; the *writer* engine (one connection) opens transactions with
`BEGIN IMMEDIATE`, so a transaction that reads then writes waits for the lock instead of
failing at once with "database is locked". Readers use a separate pool and never block
the writer in WAL mode.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crawler.config import mask_url
from crawler.errors import DatabaseError


def _migrations_dir() -> Path:
    """`migrations/` of a checkout (editable install), else the copy shipped in the package."""
    package = Path(__file__).resolve().parent.parent
    checkout = package.parent / "migrations"
    return checkout if (checkout / "env.py").is_file() else package / "_migrations"


MIGRATIONS_DIR = _migrations_dir()
# How long a writer waits for another process's lock before "database is locked".
# An environment knob for operators (and tests) who want a failure sooner.
BUSY_TIMEOUT_MS = int(os.environ.get("CRAWLER_SQLITE_BUSY_TIMEOUT_MS", "30000"))


@dataclass(frozen=True, slots=True)
class Engines:
    """The reader and writer engines of one archive (the same engine on PostgreSQL)."""

    url: str
    reader: AsyncEngine
    writer: AsyncEngine

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    db = parsed.database
    if not db or db == ":memory:":
        return None
    return Path(db)


def _install_sqlite_hooks(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Under aiosqlite this is an adapter, not sqlite3.Connection: no isinstance gates.
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        mode = cur.fetchone()[0]
        if str(mode).lower() != "wal":
            raise DatabaseError(f"SQLite refused WAL mode (got {mode!r}); is the file on a network share?")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # With pool_reset_on_return=None (create_engines): a connection going back to the pool
    # is rolled back only if it is still in a transaction. The default rollback-always is
    # one more trip to aiosqlite's thread per checkout, and each trip waits for a busy
    # event loop to come round (sqlite_direct.py).
    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
        if getattr(dbapi_conn.driver_connection, "in_transaction", True):
            dbapi_conn.rollback()


def create_engines(url: str) -> Engines:
    """Build the engines for `url`; a bad URL or unusable path is a one-line DatabaseError."""
    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"database URL {shown!r} is not valid; use sqlite+aiosqlite:///path.db "
            "or postgresql+asyncpg://user@host/db"
        ) from None
    if parsed.drivername == "sqlite+aiosqlite":
        path = _sqlite_path(url)
        if path is not None:
            parent = path.parent if str(path.parent) else Path(".")
            if not parent.is_dir():
                raise DatabaseError(
                    f"database directory {parent} does not exist (database.url = {shown}); create it first"
                )
            if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                raise DatabaseError(
                    f"database file {path} is not writable (database.url = {shown}); "
                    "check its permissions or choose another path with --database"
                )
            if not path.exists():
                # The archive holds strangers' messages: readable by its owner only. SQLite
                # gives the -wal and -shm files the permissions of the database file.
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                except OSError as exc:
                    raise DatabaseError(f"cannot create database file {path}: {exc.strerror}") from None
        writer = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=120, pool_reset_on_return=None
        )
        reader = create_async_engine(url, pool_size=5, max_overflow=5, pool_reset_on_return=None)
        _install_sqlite_hooks(writer, immediate=True)
        _install_sqlite_hooks(reader, immediate=False)
        return Engines(url=url, reader=reader, writer=writer)
    if parsed.drivername == "postgresql+asyncpg":
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)
        return Engines(url=url, reader=engine, writer=engine)
    raise DatabaseError(
        f"database URL {shown!r} uses driver {parsed.drivername!r}; "
        "allowed: sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
    )


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _head() -> str | None:
    # Read the migration scripts once per process, not at every `open_archive`.
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


MIGRATION_LOCK = 7_206_113_401  # the same key as migrations/env.py


async def migrate_to_head(engines: Engines) -> bool:
    """Upgrade to the newest schema; returns True when something was applied.

    Runs inside our event loop by handing alembic a live connection (STACK.md §3.1). On
    PostgreSQL the "already at head?" check and the upgrade happen under one advisory
    lock, so daemons starting together neither race nor see a half-migrated schema.
    """
    head = _head()
    pg = engines.dialect == "postgresql"
    try:
        async with engines.writer.connect() as conn:
            if pg:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
                await conn.commit()
            try:
                current = await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_heads()
                )
                if head is not None and tuple(current) == (head,):
                    return False
                cfg = alembic_config(engines.url)

                def _upgrade(sync: Connection) -> None:
                    cfg.attributes["connection"] = sync
                    command.upgrade(cfg, "head")

                await conn.run_sync(_upgrade)
                await conn.commit()
                return True
            finally:
                if pg:
                    await conn.rollback()
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                    await conn.commit()
    except (OperationalError, DBAPIError, OSError, sqlite3.Error) as exc:
        raise DatabaseError(describe_db_error(engines.url, exc)) from exc


def describe_db_error(url: str, exc: BaseException) -> str:
    """One actionable line for a database failure, with any password masked."""
    shown = mask_url(url)
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    lowered = text.lower()
    if "database or disk is full" in lowered or "no space left" in lowered:
        return f"the disk holding {shown} is full; free space and run again (nothing stored was lost)"
    if "database is locked" in lowered:
        return f"{shown} is locked by another process; stop it or wait, then run again"
    if "unable to open database file" in lowered or "readonly" in lowered:
        return f"cannot write {shown}: {text}; check the path and its permissions"
    if "connect" in lowered or "refused" in lowered or "does not exist" in lowered:
        return f"cannot connect to {shown}: {text}"
    return f"database {shown}: {text}"


@asynccontextmanager
async def open_archive(url: str) -> AsyncIterator[Engines]:
    """Engines for `url`, migrated to the newest schema (CONTRACT §1), disposed on exit."""
    engines = create_engines(url)
    try:
        await migrate_to_head(engines)
        try:
            yield engines
        except DBAPIError as exc:
            # Locked, disk full, connection lost...: one actionable line, not a traceback.
            raise DatabaseError(describe_db_error(url, exc)) from exc
    finally:
        await engines.dispose()
