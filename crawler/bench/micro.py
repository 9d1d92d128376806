"""The parts alone: parser, write path, export, and the `get_messages` query on a big archive."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import statistics
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import make_url

from crawler.storage.db import Engines
from crawler.storage.models import Country, CrawlRun, Message, Number
from crawler.storage.search import index_queued_sync
from crawler.storage.types import to_iso

T0 = datetime(2026, 11, 1, tzinfo=UTC)
INBOX_ROWS = 1000  # messages per inbox of the big archive
_BODIES = (
    "Your verification code is {n:06d}. Do not share it with anyone.",
    "G-{n:06d} is your Google verification code.",
    "[Steam] 인증번호 [{n:06d}]를 입력해주세요.",
    "Your code is 0000",
    "Vahvistuskoodisi on {n:04d}.",
    "=HYPERLINK(\"http://example.invalid/?c={n}\",\"Click here\")",
)  # fmt: skip
_SENDERS = ("Google", "Steam", "WhatsApp", "447700900121", "Telegram", "ExampleBank")


# --------------------------------------------------------------------------- parser
def fetch_inbox_pages(base_url: str, inbox_urls: list[str], pages: int) -> list[tuple[str, bytes, datetime]]:
    """`pages` inbox pages (all pages of as many inboxes as needed), fetched once."""
    out: list[tuple[str, bytes, datetime]] = []
    from crawler.fetcher import site_time
    from crawler.sites.smstome import page_url, parse_inbox

    for url in inbox_urls:
        page_no = 1
        while len(out) < pages:
            target = page_url(url, page_no)
            with urllib.request.urlopen(target, timeout=30) as r:
                body = r.read()
                when = site_time(dict(r.headers)) or datetime.now(UTC)
            out.append((target, body, when))
            parsed = parse_inbox(body, target, when)
            if parsed.pagination is None or parsed.pagination.next_url is None:
                break
            page_no += 1
        if len(out) >= pages:
            break
    return out


def parser_rate(pages: list[tuple[str, bytes, datetime]], min_seconds: float = 1.0) -> tuple[float, int]:
    """Inbox pages parsed per second of CPU (one core); also the messages per page seen."""
    from crawler.sites.smstome import parse_inbox

    rows = sum(len(parse_inbox(b, u, t).messages) for u, b, t in pages)  # warm-up
    done, cpu = 0, 0.0
    while cpu < min_seconds:
        start = time.process_time()
        for url, body, when in pages:
            parse_inbox(body, url, when)
        cpu += time.process_time() - start
        done += len(pages)
    return done / cpu, rows // max(1, len(pages))


# --------------------------------------------------------------------------- archives
async def is_empty(engines: Engines) -> bool:
    async with engines.reader.connect() as conn:
        for table in (Message, Number, Country):
            if (await conn.execute(select(func.count()).select_from(table))).scalar_one():
                return False
    return True


async def wipe(engines: Engines) -> None:
    """Remove what an earlier step of this run stored (only used on a database we filled)."""
    async with engines.writer.begin() as conn:
        for table in (Message, Number, Country, CrawlRun):
            await conn.execute(delete(table))


async def make_numbers(engines: Engines, count: int, prefix: str = "4477009") -> list[tuple[int, str]]:
    """`count` inboxes in one country, through the crawler's own write path; (id, digits)."""
    from crawler.storage.archive import CountryIn, NumberIn, upsert_countries, upsert_numbers

    ids = await upsert_countries(engines, [CountryIn("bench", "Bench", "44", "http://b/country/bench", None)], T0)
    numbers = [
        NumberIn(f"{prefix}{i:05d}", 10_000 + i, f"http://b/bench/phone/{prefix}{i:05d}/sms/{10_000 + i}", None, None)
        for i in range(count)
    ]
    for start in range(0, count, 500):
        await upsert_numbers(engines, ids["bench"], numbers[start : start + 500], T0)
    async with engines.reader.connect() as conn:
        rows = (await conn.execute(select(Number.id, Number.number).order_by(Number.id))).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def _message(number_id: int, seq: int) -> dict[str, Any]:
    body = _BODIES[seq % len(_BODIES)].format(n=(number_id * 7919 + seq * 104729) % 1_000_000)
    at = T0 + timedelta(minutes=seq)
    return {
        "number_id": number_id, "seq": seq, "sender": _SENDERS[seq % len(_SENDERS)], "body": body,
        "body_hash": hashlib.sha256(body.encode()).hexdigest(), "received_text": "1 hour ago",
        "fetched_at": at, "received_at": at, "received_at_min": at - timedelta(minutes=1),
        "received_at_max": at + timedelta(seconds=1), "first_seen_at": at, "code": None,
        "service": None, "gap_before": False,
    }  # fmt: skip


_TIME_COLUMNS = ("fetched_at", "received_at", "received_at_min", "received_at_max", "first_seen_at")


def _archive_rows(numbers: list[tuple[int, str]], rows: int) -> Iterator[dict[str, Any]]:
    made = 0
    for number_id, _ in numbers:
        for seq in range(1, INBOX_ROWS + 1):
            if made >= rows:
                return
            yield _message(number_id, seq)
            made += 1


async def build_archive(engines: Engines, rows: int) -> list[tuple[int, str]]:
    """An archive of `rows` messages, INBOX_ROWS per inbox, by the fastest bulk insert at hand."""
    numbers = await make_numbers(engines, -(-rows // INBOX_ROWS))
    if engines.dialect == "sqlite":
        path = make_url(engines.url).database
        assert path, "the big archive needs a SQLite file"
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA synchronous=OFF")
            columns = list(_message(1, 1))
            sql = f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

            def tuples() -> Iterator[tuple[Any, ...]]:
                for row in _archive_rows(numbers, rows):
                    for c in _TIME_COLUMNS:
                        row[c] = to_iso(row[c])
                    yield tuple(row[c] for c in columns)

            with con:
                con.executemany(sql, tuples())
                index_queued_sync(con.execute, rows)
            con.execute("ANALYZE")
        finally:
            con.close()
    else:
        batch: list[dict[str, Any]] = []
        async with engines.writer.begin() as conn:
            for row in _archive_rows(numbers, rows):
                batch.append(row)
                if len(batch) >= 10_000:
                    await conn.execute(insert(Message), batch)
                    batch = []
            if batch:
                await conn.execute(insert(Message), batch)
    return numbers


# --------------------------------------------------------------------------- write path
async def storage_rate(engines: Engines, rows: int, batch: int = 100) -> dict[str, float | None]:
    """Rows/s offered to the crawler's message INSERT, `batch` per transaction, 25% duplicates.

    Each batch is one transaction on the writer, as a walk is: 75% rows new to the
    archive, 25% rows whose (inbox, seq) is already stored (skipped by ON CONFLICT).
    """
    from crawler.storage.archive import insert_messages, store_messages
    from crawler.storage.search import index_queued

    inboxes = await make_numbers(engines, max(1, rows // 1000), prefix="4477008")
    dup = batch // 4
    fresh = batch - dup
    ids = [i for i, _ in inboxes]
    async with engines.writer.begin() as conn:  # untimed: rows for the first duplicates
        await insert_messages(conn, engines.dialect, [_message(i, s) for i in ids for s in range(1, dup + 1)])
    tops = dict.fromkeys(ids, dup)
    batches: list[list[dict[str, Any]]] = []
    offered = k = 0
    while offered < rows:
        nid = ids[k % len(ids)]
        k += 1
        top = tops[nid]
        tops[nid] = top + fresh
        batches.append([_message(nid, s) for s in range(top - dup + 1, top + fresh + 1)])
        offered += batch
    before = await _message_count(engines)
    start = time.perf_counter()
    for values in batches:
        await store_messages(engines, values)
    seconds = time.perf_counter() - start
    stored = await _message_count(engines) - before
    # SQLite's search index is filled behind the writes (storage/search.py): its catch-up
    # is the other half of what a stored row costs, so it is measured too.
    start = time.perf_counter()
    indexed = await index_queued(engines)
    index_seconds = time.perf_counter() - start
    return {
        "rows_per_second": offered / seconds, "rows": offered, "stored": stored, "batch": batch,
        "indexed": indexed, "index_rows_per_second": indexed / index_seconds if indexed else None,
    }  # fmt: skip


async def _message_count(engines: Engines) -> int:
    async with engines.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Message))).scalar_one())


class _Discard(io.BytesIO):
    """A binary sink that keeps nothing: export speed without the disk."""

    def write(self, data: Any) -> int:
        return len(data)


# --------------------------------------------------------------------------- readers
async def export_rate(engines: Engines, numbers: list[tuple[int, str]], rows: int) -> dict[str, float]:
    """`crawler export`'s code path (iter_history -> CSV writer) into a sink that keeps nothing."""
    from crawler.export import write_csv
    from crawler.storage.queries import iter_history

    done = 0
    start = time.perf_counter()
    sink = _Discard()
    for number_id, _ in numbers:
        done += await write_csv(iter_history(engines, number_id), sink)
        if done >= rows:
            break
    seconds = time.perf_counter() - start
    return {"rows_per_second": done / seconds, "rows": done}


async def query_ms(engines: Engines, numbers: list[tuple[int, str]], repeat: int = 200) -> dict[str, float]:
    """`GET /get_messages?number=..&page=1`'s queries: find_number + messages_page, median ms."""
    from crawler.storage.queries import find_number, messages_page

    digits = [d for _, d in numbers]
    picks = [digits[(i * 7919) % len(digits)] for i in range(repeat)]
    await messages_page(engines, await find_number(engines, picks[0]), 1)  # warm-up
    times = []
    for number in picks:
        start = time.perf_counter()
        page = await messages_page(engines, await find_number(engines, number), 1)
        times.append((time.perf_counter() - start) * 1000)
        assert len(page.items) == min(10, page.total)
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}
