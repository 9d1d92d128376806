"""`crawler copy`: move an archive to another database (SQLite -> PostgreSQL), idempotently.

Countries are matched by slug, numbers by (number, sms_id), messages by (number, seq): a
second run inserts nothing, and a run interrupted at any point is completed by the next.
Message identity is the inbox position `seq`, so the copy keeps each inbox's seq values
and recomputes the inbox state (count, top) from the rows actually present afterwards.
Poll records (`crawl_runs`) are observability of the old deployment and are not copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update

from crawler.storage.archive import INSERT, message_total
from crawler.storage.db import Engines
from crawler.storage.models import Country, Message, Number
from crawler.storage.search import index_queued

BATCH = 5000

_MESSAGE_COLUMNS = [
    c.name for c in Message.__table__.columns if c.name not in ("id", "number_id")
]
_NUMBER_COLUMNS = [
    c.name
    for c in Number.__table__.columns
    if c.name not in ("id", "country_id", "lease_owner", "lease_until", "next_due_at")
]
_COUNTRY_COLUMNS = [c.name for c in Country.__table__.columns if c.name != "id"]


@dataclass
class CopyReport:
    countries: int = 0
    numbers: int = 0
    messages_read: int = 0
    messages_added: int = 0


Progress = Callable[[int, int], None]  # (messages done, messages total)


async def copy_archive(source: Engines, target: Engines, progress: Progress | None = None) -> CopyReport:
    report = CopyReport()
    insert = INSERT[target.dialect]
    async with source.reader.connect() as src:
        countries = (await src.execute(select(Country.id, *[Country.__table__.c[c] for c in _COUNTRY_COLUMNS]))).all()
        numbers = (await src.execute(select(Number.id, Number.country_id, *[Number.__table__.c[c] for c in _NUMBER_COLUMNS]))).all()
    async with target.writer.begin() as dst:
        if countries:
            await dst.execute(
                insert(Country).on_conflict_do_nothing(index_elements=["slug"]),
                [{c: getattr(row, c) for c in _COUNTRY_COLUMNS} for row in countries],
            )
        slug_to_id = dict((await dst.execute(select(Country.slug, Country.id))).all())
        country_map = {row.id: slug_to_id[row.slug] for row in countries}
        if numbers:
            values = []
            for row in numbers:
                item = {c: getattr(row, c) for c in _NUMBER_COLUMNS}
                item["country_id"] = country_map[row.country_id]
                values.append(item)
            await dst.execute(insert(Number).on_conflict_do_nothing(index_elements=["number", "sms_id"]), values)
        keys = {(n, s): i for i, n, s in (await dst.execute(select(Number.id, Number.number, Number.sms_id))).all()}
        number_map = {row.id: keys[(row.number, row.sms_id)] for row in numbers}
    report.countries, report.numbers = len(countries), len(numbers)
    total = await message_total(source)
    before = await message_total(target)
    last_id = 0
    cols = [Message.__table__.c[c] for c in _MESSAGE_COLUMNS]
    while True:
        async with source.reader.connect() as src:
            batch = (
                await src.execute(
                    select(Message.id, Message.number_id, *cols)
                    .where(Message.id > last_id)
                    .order_by(Message.id)
                    .limit(BATCH)
                )
            ).all()
        if not batch:
            break
        last_id = batch[-1].id
        values = []
        for row in batch:
            item = {c: getattr(row, c) for c in _MESSAGE_COLUMNS}
            item["number_id"] = number_map[row.number_id]
            values.append(item)
        async with target.writer.begin() as dst:
            await dst.execute(insert(Message).on_conflict_do_nothing(index_elements=["number_id", "seq"]), values)
        report.messages_read += len(batch)
        if progress is not None:
            progress(report.messages_read, total)
    report.messages_added = await message_total(target) - before
    await _refresh_inbox_state(target)
    await index_queued(target)
    return report


async def _refresh_inbox_state(target: Engines) -> None:
    """Counts and tops from the rows present, so the daemon's stop rule sees the truth."""
    counted = (
        select(Message.number_id, func.count().label("n"), func.max(Message.seq).label("top"))
        .group_by(Message.number_id)
        .subquery()
    )
    async with target.writer.begin() as dst:
        rows = (await dst.execute(select(counted.c.number_id, counted.c.n, counted.c.top))).all()
        if rows:
            await dst.execute(
                update(Number)
                .where(Number.id == bindparam("b_id"))
                .values(message_count=bindparam("b_n"), top_seq=bindparam("b_top")),
                [{"b_id": r.number_id, "b_n": int(r.n), "b_top": int(r.top)} for r in rows],
            )
