"""The export fast path (stored ISO text, cells per batch) writes the same bytes as the
row-by-row path over HistoryRow objects."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.export import write_csv, write_jsonl
from crawler.storage import archive
from crawler.storage import queries as q
from crawler.storage.archive import CountryIn, NewMessage, NumberIn
from crawler.storage.db import open_archive


@pytest.mark.parametrize("raw", [False, True])
async def test_fast_path_is_byte_identical(tmp_path: Path, raw: bool) -> None:
    t0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
    async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as engines:
        ids = await archive.upsert_countries(engines, [CountryIn("fi", "Finland", "358", "http://x/c/fi", None)], t0)
        await archive.upsert_numbers(engines, ids["fi"], [NumberIn("358700900301", 1, "http://x/i", None, None)], t0)
        (inbox,) = await archive.inboxes(engines, [ids["fi"]])
        rows = [
            NewMessage("=cmd", "Your code is 123456", "1 min ago", t0, t0 - timedelta(minutes=2), t0),
            NewMessage("+447700900121", "-1 \"quoted\", comma\nline", "2 min ago", t0, None, None),
            NewMessage("@x", "ünïcødé 验证码 7788", "now", t0, t0 - timedelta(microseconds=7), t0 + timedelta(seconds=1, microseconds=123456)),
            NewMessage("A", "plain", "3 min ago", t0, None, t0 - timedelta(seconds=5)),
            # The SQL-written lines (queries._sqlite_csv) against the csv module's rules:
            NewMessage("+٤٤٧٧٠٠٩٠٠١٢١", "\rcarriage return", "=1+1", t0, None, None),  # \d takes any digits
            NewMessage("+12", "tab\tinside", "", t0, None, None),
            NewMessage("+1234567890123456", '""', "\tx", t0, None, None),  # 16 digits: not a phone
            NewMessage("-", "@mention\r\nnext", "+ 1 min", t0, None, None),
            NewMessage("B", "end,", "4 min ago", t0, t0, t0),
        ] * 300  # more than one HISTORY_BATCH
        stored = await archive.store_walk(
            engines, inbox, rows, [], polled_at=t0 + timedelta(microseconds=1), gap=False, truncated=False
        )
        assert stored == len(rows)
        con = sqlite3.connect(tmp_path / "a.db")  # times as another tool may have stored them
        with con:
            con.execute("UPDATE messages SET received_at_min = '2026-11-01 11:58:00' WHERE seq % 7 = 3")
            con.execute("UPDATE messages SET first_seen_at = '2026-11-01T12:00:00+00:00' WHERE seq % 11 = 5")
        con.close()
        for since, until in [(None, None), (t0 - timedelta(minutes=1), None)]:
            slow_rows = [r async for r in q.iter_history(engines, inbox.id, since, until)]
            fast, slow = io.BytesIO(), io.BytesIO()
            assert await write_csv(q.iter_history(engines, inbox.id, since, until), fast, raw=raw) == len(slow_rows)
            await write_csv(slow_rows, slow, raw=raw)
            assert fast.getvalue() == slow.getvalue()
            fast, slow = io.BytesIO(), io.BytesIO()
            assert await write_jsonl(q.iter_history(engines, inbox.id, since, until), fast) == len(slow_rows)
            await write_jsonl(slow_rows, slow)
            assert fast.getvalue() == slow.getvalue()
