"""Group commit in archive.store_walk: walks ready together share one transaction, yet
each keeps its own fence (stale walks write nothing; one inbox never gets two walks)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.storage import archive, search, sqlite_direct
from crawler.storage.archive import CountryIn, NewMessage, NumberIn
from crawler.storage.db import open_archive


@pytest.mark.parametrize("direct", [True, False], ids=["driver-thread", "sqlalchemy"])
async def test_concurrent_walks_batch_and_keep_their_fences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    monkeypatch.setattr(archive, "INDEX_EVERY", 10)
    if not direct:  # an aiosqlite without the internals sqlite_direct uses: the plain path

        async def unavailable(*_: object) -> object:
            return sqlite_direct.NOT_AVAILABLE

        monkeypatch.setattr(archive, "run_on_driver_thread", unavailable)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as engines:
        ids = await archive.upsert_countries(engines, [CountryIn("fi", "Finland", "358", "http://x/c/fi", None)], t0)
        numbers = [NumberIn(f"35870090{i:04d}", i, f"http://x/i/{i}", None, None) for i in range(12)]
        await archive.upsert_numbers(engines, ids["fi"], numbers, t0)
        inboxes = await archive.inboxes(engines, [ids["fi"]])
        rows = [NewMessage("A", f"code {i}", "1 min ago", t0, t0 - timedelta(minutes=2), t0) for i in range(4)]
        batches = 0
        original = archive._write_walks

        async def counting(engines_: object, batch: list[object], committer: object) -> list[int]:
            nonlocal batches
            batches += 1
            return await original(engines_, batch, committer)  # type: ignore[arg-type]

        archive._write_walks = counting  # type: ignore[assignment]
        try:
            # Every inbox walked twice from the same state, all at once.
            walks = [
                archive.store_walk(engines, inbox, rows, [], polled_at=t0, gap=False, truncated=False)
                for inbox in inboxes
                for _ in range(2)
            ]
            results = await asyncio.gather(*walks)
        finally:
            archive._write_walks = original  # type: ignore[assignment]
        assert batches < len(walks)  # shared transactions
        for i in range(len(inboxes)):
            assert sorted(results[2 * i : 2 * i + 2]) == [-1, 4]  # exactly one walk per inbox
        assert await archive.message_total(engines) == 4 * len(inboxes)
        for inbox in await archive.inboxes(engines, [ids["fi"]]):
            assert (inbox.top_seq, inbox.message_count) == (4, 4)
    con = sqlite3.connect(tmp_path / "a.db")
    queued = con.execute(f"SELECT count(*) FROM {search.QUEUE_TABLE}").fetchone()[0]
    con.close()
    assert queued < 4 * len(inboxes)  # the writer indexed on the way (every INDEX_EVERY rows)
