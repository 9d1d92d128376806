"""Build a real SQLite archive for reader tests: migrate with open_archive, insert with the ORM.

    async with open_archive(url) as engines:
        f = ArchiveFactory(engines)
        uk = await f.country("united-kingdom", "United Kingdom", "44")
        n = await f.number(uk, "447700900121")
        await f.messages(n, [Msg("Google", "G-771204 is your code")])   # oldest first
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.storage.db import Engines
from crawler.storage.models import Country, Message, Number

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


@dataclass
class Msg:
    sender: str
    body: str
    received_at: datetime | None = None  # None: the time text was unparseable (NULL)
    received_text: str = "1 hour ago"
    code: str | None = None
    service: str | None = None


class ArchiveFactory:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    async def country(
        self, slug: str = "united-kingdom", name: str = "United Kingdom", calling_code: str | None = "44",
        status: str = "active",
    ) -> int:
        row = Country(
            slug=slug, name=name, calling_code=calling_code, url=f"https://smstome.com/country/{slug}",
            flag_url=None, status=status, first_seen_at=T0, last_seen_at=T0,
        )
        return await self._add(row)

    async def number(
        self, country_id: int, number: str = "447700900121", sms_id: int = 1, *,
        status: str = "active", first_seen_at: datetime = T0, last_seen_at: datetime = T0,
    ) -> int:
        row = Number(
            number=number, country_id=country_id, sms_id=sms_id,
            inbox_url=f"https://smstome.com/phone/{number}/sms/{sms_id}", location=None,
            added_text="1 day ago", status=status, first_seen_at=first_seen_at,
            last_seen_at=last_seen_at, walk_complete=True,
        )
        return await self._add(row)

    async def messages(self, number_id: int, items: Iterable[Msg], *, batch: int = 5000) -> int:
        """Append `items` (oldest first) after the inbox's newest stored seq; returns the count."""
        async with AsyncSession(self.engines.writer) as session:
            top = (await session.execute(
                select(func.coalesce(func.max(Message.seq), 0)).where(Message.number_id == number_id)
            )).scalar_one()  # fmt: skip
            rows: list[dict[str, object]] = []
            count = 0
            for item in items:
                count += 1
                rows.append(_row(number_id, top + count, item))
                if len(rows) >= batch:
                    await session.execute(insert(Message), rows)  # ORM bulk insert
                    rows = []
            if rows:
                await session.execute(insert(Message), rows)
            await session.commit()
        return count

    async def _add(self, row: Country | Number) -> int:
        async with AsyncSession(self.engines.writer, expire_on_commit=False) as session:
            session.add(row)
            await session.commit()
            return row.id


def _row(number_id: int, seq: int, item: Msg) -> dict[str, object]:
    at = item.received_at if item.received_at is not None else T0 + timedelta(minutes=seq)
    return {
        "number_id": number_id, "seq": seq, "sender": item.sender, "body": item.body,
        "body_hash": hashlib.sha256(item.body.encode("utf-8", "surrogatepass")).hexdigest(),
        "received_text": item.received_text, "fetched_at": at + timedelta(hours=1),
        "received_at": item.received_at, "received_at_min": None if item.received_at is None else at - timedelta(minutes=1),
        "received_at_max": None if item.received_at is None else at + timedelta(minutes=1),
        "first_seen_at": at + timedelta(hours=1), "code": item.code, "service": item.service,
        "gap_before": False,
    }  # fmt: skip


def simple(n: int, sender: str = "Acme", start: int = 1) -> Sequence[Msg]:
    """`n` messages "message <i>" with received_at T0 + i minutes, oldest first."""
    return [
        Msg(sender, f"message {i}", received_at=T0 + timedelta(minutes=i)) for i in range(start, start + n)
    ]
