"""Alembic environment, async-aware and injectable (STACK.md §3.1).

`crawler` runs migrations from inside its own event loop by handing a live connection in
`config.attributes["connection"]`; the plain `alembic` CLI (run from the repo root, URL from
`-x url=...`, `$CRAWLER_DATABASE_URL` or config.toml) goes through `asyncio.run`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from crawler.storage.models import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK = 7_206_113_401  # pg_advisory_lock key: daemons starting together do not race


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from crawler.config import load_config

    return load_config().database.url


# Search indexes made with raw DDL in 0002 (FTS5 table and its shadow tables on SQLite,
# pg_trgm expression indexes on PostgreSQL): not in the models, so autogenerate and
# `alembic check` must not propose dropping them.
_RAW_DDL_PREFIXES = ("messages_fts",)
_RAW_DDL_INDEXES = frozenset({"ix_messages_body_trgm", "ix_messages_sender_trgm"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and name and name.startswith(_RAW_DDL_PREFIXES):
        return False
    return not (type_ == "index" and name in _RAW_DDL_INDEXES)


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_with_lock(connection: Connection) -> None:
    """On PostgreSQL, migrate under a session advisory lock (daemons starting together).

    The work is committed BEFORE the lock is released: a waiter that got the lock while
    our DDL was still uncommitted would not see alembic_version and would run it again.
    (Session locks are re-entrant, so `crawler`'s own outer lock, see
    `crawler.storage.db.migrate_to_head`, stays held through this.)
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            do_run_migrations(connection)
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
    else:
        do_run_migrations(connection)


async def run_async_migrations() -> None:
    section = config.get_section(config.config_ini_section) or {}
    section["sqlalchemy.url"] = _url()
    engine = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_with_lock)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        run_with_lock(connection)


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
