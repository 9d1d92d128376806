"""Full-text search: the FTS5 index (SQLite) / pg_trgm (PostgreSQL) gives the scan's exact answer."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from crawler.cli import cli
from crawler.storage import queries as q
from crawler.storage import search as s
from crawler.storage.db import Engines, open_archive

from .archive_factory import T0, ArchiveFactory, Msg
from .helpers import run_alembic, throwaway_postgres


def _corpus() -> list[Msg]:
    """Oldest first; received_at increases, so newest first is the reverse."""
    texts = [
        ("Google", "G-771204 is your Google verification code", "771204", "Google"),
        ("WhatsApp", "Your WhatsApp code: 123-456", "123456", "WhatsApp"),
        ("Bank", "Your balance is 1000 EUR", None, None),
        ("Straße-Amt", "Termin in der STRASSE", None, None),
        ("Shop", "Order 5555 shipped \"today\"", None, None),
        ("Telegram", "Telegram code 55555. Do not give it to anyone", "55555", "Telegram"),
        ("google", "Your Google account was accessed", None, "Google"),
        ("ΣΟΦΙΑ", "καλημέρας σας", None, None),
    ]
    return [Msg(snd, body, T0 + timedelta(minutes=i), code=code, service=svc) for i, (snd, body, code, svc) in enumerate(texts)]


async def _fill(engines: Engines) -> None:
    f = ArchiveFactory(engines)
    uk = await f.country()
    await f.messages(await f.number(uk, "447700900121"), _corpus()[:5])
    await f.messages(await f.number(uk, "447700900122"), _corpus()[5:])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engines(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engines]:
    if request.param == "sqlite":
        async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as e:
            await _fill(e)
            yield e
        return
    async with throwaway_postgres("crawler_fts") as url, open_archive(url) as e:
        await _fill(e)
        yield e


async def senders(engines: Engines, query: str, **kw: object) -> list[str]:
    return [h.message.sender for h in await q.search(engines, query, **kw)]  # type: ignore[arg-type]


async def test_words_case_insensitive_newest_first(engines: Engines) -> None:
    assert await senders(engines, "GOOGLE") == ["google", "Google"]
    assert await senders(engines, "code") == ["Telegram", "WhatsApp", "Google"]
    assert await senders(engines, "123-456") == ["WhatsApp"]
    assert await senders(engines, '"today"') == ["Shop"]
    assert await senders(engines, "no such words") == []
    assert await senders(engines, "σοφια") == ["ΣΟΦΙΑ"]  # non-ASCII case folding


async def test_filters(engines: Engines) -> None:
    assert await senders(engines, "your", service="google") == ["google", "Google"]
    assert await senders(engines, "o", has_code=True) == ["Telegram", "WhatsApp", "Google"]
    assert await senders(engines, "your", has_code=False) == ["google", "Bank"]
    assert await senders(engines, "your", sender="APP") == ["WhatsApp"]
    assert await senders(engines, "o", number="447700900122") == ["google", "Telegram"]
    since, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=5)
    assert await senders(engines, "o", since=since, until=until) == ["Telegram", "Shop", "Bank", "WhatsApp"]


async def test_index_path_equals_window_path(engines: Engines, monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = {query: await senders(engines, query) for query in ("code", "your", "strasse", "go", "ß", "e")}
    monkeypatch.setattr(s, "WINDOW", 1)  # the probe finds too little: the index answers
    for query, expected in wanted.items():
        assert await senders(engines, query) == expected, query
    assert wanted["strasse"] == ["Straße-Amt"]  # ß folds to ss in the index too


def _fts_state(path: Path) -> tuple[int, int]:
    """(rows waiting in the index queue, rows the index answers for 'you')."""
    con = sqlite3.connect(path)
    try:
        queued = con.execute(f"SELECT count(*) FROM {s.QUEUE_TABLE}").fetchone()[0]
        hits = con.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'you'").fetchone()[0]
        return int(queued), int(hits)
    finally:
        con.close()


async def test_queued_rows_are_found_before_and_after_indexing(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New rows wait in a queue for the bulk indexer; search must not depend on when it ran."""
    if engines.dialect != "sqlite":
        pytest.skip("the index queue is SQLite's")
    queries = ("code", "your", "strasse", "GOOGLE", "σοφια", "123-456", "no such words", "go")
    scanned = {query: await senders(engines, query) for query in queries}  # the newest-rows probe
    monkeypatch.setattr(s, "WINDOW", 1)  # from here on the index (plus the queue) answers
    assert _fts_state(tmp_path / "a.db") == (8, 0)  # everything queued, nothing indexed yet
    assert {query: await senders(engines, query) for query in queries} == scanned
    assert await s.index_queued(engines, batch=3) == 8  # in several transactions
    assert _fts_state(tmp_path / "a.db") == (0, 4)  # "Your"/"your" x4 (the trigram index folds case)
    assert {query: await senders(engines, query) for query in queries} == scanned
    assert await s.count_matches(engines, "your") == 4
    assert await s.index_queued(engines) == 0


@pytest.mark.parametrize("indexed", [False, True], ids=["queued", "indexed"])
async def test_sqlite_index_follows_writes(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, indexed: bool
) -> None:
    if engines.dialect != "sqlite":
        pytest.skip("FTS5 triggers are SQLite's")
    if indexed:
        await s.index_queued(engines)
    monkeypatch.setattr(s, "WINDOW", 1)
    con = sqlite3.connect(tmp_path / "a.db")
    tel = con.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'tel'").fetchone()
    assert tel == ((1,) if indexed else (0,))
    with con:
        con.execute("UPDATE messages SET body = 'renamed text' WHERE sender = 'Bank'")
        con.execute("DELETE FROM messages WHERE sender = 'Telegram'")
    con.close()
    assert await senders(engines, "renamed") == ["Bank"]
    assert await senders(engines, "balance") == []
    assert await senders(engines, "telegram code") == []
    await s.index_queued(engines)  # the edited row went back in the queue; index it again
    assert await senders(engines, "renamed") == ["Bank"]
    assert await senders(engines, "balance") == []
    assert _fts_state(tmp_path / "a.db")[0] == 0


def test_fts_match_expression() -> None:
    assert s.fts_match("ab") is None
    assert s.fts_match("Straße") == '"str" AND "tra" AND "ras" AND "ass" AND "sse"'
    assert s.fts_match('a"bc') == '"a""b" AND """bc"'
    long = s.fts_match("x" * 5 + "abcdefghijklmnopqrstuvwxyz")
    assert long is not None and long.count(" AND ") == s.MAX_TRIGRAMS - 1


async def test_postgres_has_trigram_indexes(engines: Engines) -> None:
    if engines.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    async with engines.reader.connect() as conn:
        names = set((await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'messages'"))).scalars())
    assert {"ix_messages_body_trgm", "ix_messages_sender_trgm"} <= names


def test_search_command_options(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"

    async def build() -> None:
        async with open_archive(url) as e:
            await _fill(e)

    asyncio.run(build())
    args = ["--database", url, "search", "your", "--service", "GOOGLE", "--has-code", "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [r["from"] for r in json.loads(result.output)] == ["Google"]
    window = ["--since", "2026-11-01T00:02", "--until", "2026-11-01T00:04:00Z", "--json"]
    result = CliRunner().invoke(cli, ["--database", url, "search", "o", *window], catch_exceptions=False)
    assert [r["from"] for r in json.loads(result.output)] == ["Shop", "Bank"]
    bad = CliRunner().invoke(cli, ["--database", url, "search", "o", "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.output


@pytest.mark.postgres
async def test_postgres_round_trip_and_no_drift() -> None:
    """0002's raw DDL (pg_trgm indexes) survives downgrade/upgrade and `alembic check` stays clean."""
    from alembic import command


    steps = {
        "head": lambda cfg: command.upgrade(cfg, "head"),
        "base": lambda cfg: command.downgrade(cfg, "base"),
        "check": command.check,
    }
    async with throwaway_postgres("crawler_chk") as url:
        for step in ("head", "base", "head", "check"):
            await run_alembic(url, steps[step])
