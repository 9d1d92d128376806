"""`/metrics`: archive and crawl figures in the Prometheus text format, read from the database.

The figures are gauges computed at scrape time (the database is the truth; several
crawler processes may write it), handed to a collector that only yields them. The
collector is filled and read in one synchronous step, so concurrent scrapes on the one
event loop cannot mix their snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from crawler.storage.db import Engines
from crawler.storage.models import Country, CrawlRun, Message, Number

RECENT = timedelta(hours=24)

_GAUGES = {
    "messages": "Archived messages",
    "messages_with_code": "Archived messages that carry a one-time code",
    "numbers": "Archived inboxes (a recycled number counts once per inbox)",
    "countries": "Archived countries",
    "last_run_started_timestamp_seconds": "Start of the newest crawl run (Unix time)",
    "last_run_finished_timestamp_seconds": "End of the newest finished crawl run (Unix time)",
    "last_run_requests": "HTTP requests of the newest finished crawl run",
    "last_run_new_messages": "New messages of the newest finished crawl run",
    "recent_runs": "Crawl runs started in the last 24 hours",
    "recent_requests": "HTTP requests of crawl runs started in the last 24 hours",
    "recent_new_messages": "New messages of crawl runs started in the last 24 hours",
}


class _Snapshot(Collector):
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in self.values.items():
            yield GaugeMetricFamily(f"crawler_archive_{name}", _GAUGES[name], value=value)


async def figures(engines: Engines) -> dict[str, float]:
    since = datetime.now(UTC) - RECENT
    out: dict[str, float] = {}
    async with engines.reader.connect() as conn:
        async def scalar(stmt: Any) -> Any:
            return (await conn.execute(stmt)).scalar_one()

        out["messages"] = await scalar(select(func.count()).select_from(Message))
        out["messages_with_code"] = await scalar(select(func.count()).select_from(Message).where(Message.code.is_not(None)))
        out["numbers"] = await scalar(select(func.count()).select_from(Number))
        out["countries"] = await scalar(select(func.count()).select_from(Country))
        # Runs are crawl passes and enumerations; the daemon's per-inbox poll records
        # (kind 'inbox') are a different grain and would drown them.
        runs = CrawlRun.kind != "inbox"
        started = await scalar(select(func.max(CrawlRun.started_at)).where(runs))
        if started is not None:
            out["last_run_started_timestamp_seconds"] = started.timestamp()
        last = (await conn.execute(
            select(CrawlRun.finished_at, CrawlRun.requests, CrawlRun.new_messages)
            .where(runs, CrawlRun.finished_at.is_not(None)).order_by(CrawlRun.finished_at.desc()).limit(1)
        )).first()  # fmt: skip
        if last is not None and last[0] is not None:
            out["last_run_finished_timestamp_seconds"] = last[0].timestamp()
            out["last_run_requests"], out["last_run_new_messages"] = last[1], last[2]
        recent = (await conn.execute(
            select(func.count(), func.coalesce(func.sum(CrawlRun.requests), 0), func.coalesce(func.sum(CrawlRun.new_messages), 0))
            .where(runs, CrawlRun.started_at >= since)
        )).one()  # fmt: skip
        out["recent_runs"], out["recent_requests"], out["recent_new_messages"] = recent
    return {k: float(v) for k, v in out.items()}


def install(app: web.Application, registry: CollectorRegistry) -> None:
    snapshot = _Snapshot()
    registry.register(snapshot)

    async def handler(request: web.Request) -> web.Response:
        from crawler.api.app import ENGINES, HEADERS

        values = await figures(request.app[ENGINES])
        snapshot.values = values
        body = generate_latest(registry)  # synchronous: no other scrape can interleave
        return web.Response(body=body, headers={**HEADERS, "Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", handler)
