"""Figures for `crawler stats` (and the API's /metrics): read-only, cheap aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from crawler.storage.db import Engines
from crawler.storage.models import Country, CrawlRun, Message, Number


@dataclass(frozen=True, slots=True)
class RunRow:
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    requests: int
    new_numbers: int
    new_messages: int
    errors: int


@dataclass
class ArchiveStats:
    countries: int = 0
    numbers_by_status: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    database_bytes: int | None = None
    per_country: list[tuple[str, int, int]] = field(default_factory=list)  # slug, numbers, messages
    per_day: list[tuple[str, int]] = field(default_factory=list)  # YYYY-MM-DD (received), count
    last_runs: list[RunRow] = field(default_factory=list)
    polls_24h: int = 0
    poll_requests_24h: int = 0
    poll_new_24h: int = 0
    empty_polls_24h: int = 0
    failed_polls_24h: int = 0
    overdue: int = 0

    @property
    def requests_per_new_message(self) -> float | None:
        return self.poll_requests_24h / self.poll_new_24h if self.poll_new_24h else None

    @property
    def empty_poll_share(self) -> float | None:
        return self.empty_polls_24h / self.polls_24h if self.polls_24h else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "countries": self.countries,
            "numbers_by_status": self.numbers_by_status,
            "messages": self.messages,
            "database_bytes": self.database_bytes,
            "per_country": [{"country": c, "numbers": n, "messages": m} for c, n, m in self.per_country],
            "messages_per_day": [{"day": d, "messages": n} for d, n in self.per_day],
            "last_runs": [
                {
                    "kind": r.kind,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                    "status": r.status,
                    "requests": r.requests,
                    "new_numbers": r.new_numbers,
                    "new_messages": r.new_messages,
                    "errors": r.errors,
                }
                for r in self.last_runs
            ],
            "inbox_polls_24h": {
                "polls": self.polls_24h,
                "requests": self.poll_requests_24h,
                "new_messages": self.poll_new_24h,
                "empty_share": self.empty_poll_share,
                "failed": self.failed_polls_24h,
                "requests_per_new_message": self.requests_per_new_message,
            },
            "overdue_inboxes": self.overdue,
        }


def _day(engines: Engines) -> Any:
    if engines.dialect == "postgresql":
        return func.to_char(func.timezone("UTC", Message.received_at), "YYYY-MM-DD")
    return func.substr(Message.received_at, 1, 10)  # fixed-width ISO text on SQLite


async def archive_stats(engines: Engines, now: datetime, *, days: int = 14, runs: int = 10) -> ArchiveStats:
    out = ArchiveStats()
    async with engines.reader.connect() as conn:
        out.countries = int((await conn.execute(select(func.count()).select_from(Country))).scalar_one())
        statuses = await conn.execute(select(Number.status, func.count()).group_by(Number.status))
        out.numbers_by_status = {str(s): int(n) for s, n in statuses.all()}
        out.messages = int((await conn.execute(select(func.count()).select_from(Message))).scalar_one())
        per_number = (
            select(Number.country_id, func.count(Message.id).label("m"))
            .select_from(Number)
            .outerjoin(Message, Message.number_id == Number.id)
            .group_by(Number.id, Number.country_id)
            .subquery()
        )
        countries = await conn.execute(
            select(Country.slug, func.count(per_number.c.country_id), func.coalesce(func.sum(per_number.c.m), 0))
            .select_from(Country)
            .outerjoin(per_number, per_number.c.country_id == Country.id)
            .group_by(Country.slug)
            .order_by(Country.slug)
        )
        out.per_country = [(str(s), int(n), int(m)) for s, n, m in countries.all()]
        day = _day(engines)
        days_rows = await conn.execute(
            select(day, func.count()).where(Message.received_at.is_not(None)).group_by(day).order_by(day.desc()).limit(days)
        )
        out.per_day = sorted((str(d), int(n)) for d, n in days_rows.all())
        run_rows = await conn.execute(
            select(
                CrawlRun.kind,
                CrawlRun.started_at,
                CrawlRun.finished_at,
                CrawlRun.status,
                CrawlRun.requests,
                CrawlRun.new_numbers,
                CrawlRun.new_messages,
                CrawlRun.errors,
            )
            .where(CrawlRun.kind != "inbox")
            .order_by(CrawlRun.id.desc())
            .limit(runs)
        )
        out.last_runs = [RunRow(*r) for r in run_rows.all()]
        since = now - timedelta(hours=24)
        row = (
            await conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(CrawlRun.requests), 0),
                    func.coalesce(func.sum(CrawlRun.new_messages), 0),
                    func.coalesce(func.sum(CrawlRun.empty_polls), 0),
                    func.coalesce(func.sum(CrawlRun.errors + CrawlRun.gated + CrawlRun.challenged), 0),
                ).where(CrawlRun.kind == "inbox", CrawlRun.started_at >= since)
            )
        ).one()
        out.polls_24h, out.poll_requests_24h, out.poll_new_24h, out.empty_polls_24h, out.failed_polls_24h = (
            int(v) for v in row
        )
        out.overdue = int(
            (
                await conn.execute(
                    select(func.count()).where(
                        Number.status != "retired",
                        Number.next_due_at.is_not(None),
                        Number.next_due_at < now - timedelta(minutes=5),
                    )
                )
            ).scalar_one()
        )
    url = make_url(engines.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        out.database_bytes = sum(
            p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()
        )
    return out
