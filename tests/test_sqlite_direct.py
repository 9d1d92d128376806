"""The SQLite write path that runs a whole transaction on aiosqlite's thread."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from crawler.storage import archive, sqlite_direct
from crawler.storage.db import open_archive

from .archive_factory import T0, ArchiveFactory


def _row(number_id: int, seq: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "number_id": number_id, "seq": seq, "sender": "S", "body": f"body {seq}", "body_hash": "h",
        "received_text": "now", "fetched_at": T0, "received_at": T0, "received_at_min": T0,
        "received_at_max": T0, "first_seen_at": T0, "code": None, "service": None, "gap_before": False,
    }  # fmt: skip
    return row | changes


async def test_installed_aiosqlite_takes_the_one_trip_path(tmp_path: Path) -> None:
    """If an aiosqlite release drops the internals, writes still work but slowly: say so here."""
    async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as engines:
        async with engines.writer.connect() as conn:
            got = await sqlite_direct.run_on_driver_thread(conn, lambda con: con.execute("SELECT 41 + 1").fetchone())
        assert got == (42,)


async def test_rows_insert_once_and_errors_are_database_errors(tmp_path: Path) -> None:
    async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as engines:
        f = ArchiveFactory(engines)
        number = await f.number(await f.country(), "447700900121")
        rows = [_row(number, seq) for seq in range(1, 151)]  # more than one multi-row INSERT
        assert await archive.store_messages(engines, rows) == 150
        assert await archive.store_messages(engines, rows[100:] + [_row(number, 151)]) == 1
        assert await archive.message_total(engines) == 151
        with pytest.raises(IntegrityError):  # as SQLAlchemy would raise it; nothing of the batch stays
            await archive.store_messages(engines, [_row(number, 152), _row(number, 153, sender=None)])
        with pytest.raises(ValueError, match="naive datetime"):
            await archive.store_messages(engines, [_row(number, 154, fetched_at=datetime(2026, 1, 1))])
        assert await archive.message_total(engines) == 151
