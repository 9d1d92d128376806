"""Migrations own the schema: round trip, no drift from the models, pragmas in effect."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from crawler.storage.db import alembic_config, create_engines, migrate_to_head, open_archive

from .helpers import run_alembic


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1


async def test_upgrade_downgrade_upgrade_and_no_drift(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await run_alembic(url, lambda cfg: command.upgrade(cfg, "head"))
    await run_alembic(url, lambda cfg: command.downgrade(cfg, "base"))
    con = sqlite3.connect(tmp_path / "m.db")
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
    con.close()
    assert names <= {"alembic_version"}
    await run_alembic(url, lambda cfg: command.upgrade(cfg, "head"))
    await run_alembic(url, lambda cfg: command.check(cfg))  # raises on model/migration drift


async def test_every_open_migrates_and_sets_wal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    async with open_archive(url) as engines:
        async with engines.writer.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
            cols = (await conn.execute(text("SELECT * FROM message_history LIMIT 0"))).keys()
    assert mode == "wal" and busy >= 10_000
    assert list(cols)[:10] == [
        "country", "number", "sender", "received_at", "received_at_min", "received_at_max",
        "received_text", "message", "first_seen_at", "code",
    ]
    engines = create_engines(url)
    try:
        assert await migrate_to_head(engines) is False  # already at head: nothing to do
    finally:
        await engines.dispose()


async def test_0003_downgrade_indexes_queued_rows_and_restores_triggers(tmp_path: Path) -> None:
    """Going back to 0002 (index fed row by row) must not lose rows still queued for the index."""
    from crawler.storage import search

    from .archive_factory import T0, ArchiveFactory, Msg

    path = tmp_path / "q.db"
    url = f"sqlite+aiosqlite:///{path}"
    async with open_archive(url) as engines:
        f = ArchiveFactory(engines)
        number = await f.number(await f.country(), "447700900121")
        await f.messages(number, [Msg("Bank", "your balance moved", T0), Msg("Shop", "order shipped", T0)])
    await run_alembic(url, lambda cfg: command.downgrade(cfg, "0002"))
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'bal'").fetchone() == (1,)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        assert search.QUEUE_TABLE not in tables
        with con:  # 0002's trigger indexes a new row at once again
            con.execute(
                "INSERT INTO messages (number_id, seq, sender, body, body_hash, received_text, fetched_at, "
                "first_seen_at, gap_before) SELECT number_id, 3, 'X', 'parcel waiting', 'h', 'now', "
                "fetched_at, first_seen_at, 0 FROM messages LIMIT 1"
            )
        assert con.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'rce'").fetchone() == (1,)
    finally:
        con.close()
    await run_alembic(url, lambda cfg: command.upgrade(cfg, "head"))
    async with open_archive(url) as engines:
        assert [h.message.sender for h in await search.search_messages(engines, "parcel")] == ["X"]
