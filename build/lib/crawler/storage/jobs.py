"""Cluster-wide singleton jobs (country and number enumeration) for several daemons.

On PostgreSQL a session-level advisory lock makes sure one daemon runs a given job at a
time (a daemon that dies drops its connection, and with it the lock), and the runs table
tells the others the job ran recently, so N daemons do not enumerate N times as often.
On SQLite only one daemon runs (instance lock), so the lock is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select

from crawler.storage.db import Engines
from crawler.storage.models import CrawlRun


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key (Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.sha256(f"crawler:{name}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def singleton(engines: Engines, name: str) -> AsyncIterator[bool]:
    """Yields True when this process may run job `name` now."""
    if engines.dialect != "postgresql":
        yield True
        return
    key = _lock_key(name)
    async with engines.writer.connect() as conn:
        got = bool((await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar_one())
        await conn.commit()
        try:
            yield got
        finally:
            if got:
                await conn.execute(select(func.pg_advisory_unlock(key)))
                await conn.commit()


async def finished_recently(engines: Engines, kind: str, now: datetime, within: timedelta) -> bool:
    """Did any daemon finish a successful `kind` run within `within`?"""
    async with engines.reader.connect() as conn:
        last = (
            await conn.execute(
                select(func.max(CrawlRun.finished_at)).where(CrawlRun.kind == kind, CrawlRun.status == "ok")
            )
        ).scalar_one()
    return last is not None and last >= now - within
