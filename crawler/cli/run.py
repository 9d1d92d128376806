"""`crawler run` (the daemon) and `crawler stats` (how it is doing)."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime

import click

from crawler.cli import AppContext, pass_app, run_async, with_archive
from crawler.daemon import Daemon, DaemonStats
from crawler.storage.stats import ArchiveStats, archive_stats


@click.command("run")
@click.option("--workers", type=click.IntRange(1, 256), help="Inbox workers (default: http.concurrency).")
@pass_app
def run_command(app: AppContext, workers: int | None) -> None:
    """The daemon: enumerate countries and numbers, poll every inbox adaptively.

    Stays in the foreground (systemd or a supervisor daemonizes it). SIGTERM or SIGINT:
    stop taking work, finish or safely abandon in-flight walks, exit 0. Only one daemon
    may use a SQLite file at a time.

    Example: crawler run -v
    """
    config = app.config

    async def go() -> DaemonStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await Daemon(config, workers=workers).run(stop)

    stats = run_async(go())
    click.echo(
        f"stopped: {stats.inbox_polls} inbox polls, {stats.requests} inbox requests, "
        f"{stats.new_messages} new messages, {stats.enumerations} enumerations",
        err=True,
    )


def _fmt_ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.0f} %" if percent else f"{value:.2f}"


def format_stats(s: ArchiveStats) -> str:
    numbers = sum(s.numbers_by_status.values())
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(s.numbers_by_status.items())) or "none"
    size = f", {s.database_bytes / 1e6:.1f} MB on disk" if s.database_bytes is not None else ""
    lines = [
        f"archive: {s.messages} messages, {numbers} numbers ({by_status}), {s.countries} countries{size}",
        "",
        "per country            numbers  messages",
    ]
    lines += [f"  {slug:<20} {n:>8} {m:>9}" for slug, n, m in s.per_country]
    lines += ["", "messages per day (arrival, UTC; the 14 latest days with messages)"]
    lines += [f"  {day}  {n:>8}" for day, n in s.per_day] or ["  none yet"]
    lines += [
        "",
        "inbox polls, last 24 h",
        f"  polls {s.polls_24h}, requests {s.poll_requests_24h}, new messages {s.poll_new_24h}",
        f"  requests per new message {_fmt_ratio(s.requests_per_new_message)}, "
        f"empty polls {_fmt_ratio(s.empty_poll_share, percent=True)}, failed polls {s.failed_polls_24h}",
        f"  overdue inboxes (due > 5 min ago): {s.overdue}",
        "",
        "last runs (enumerations and crawl passes)",
    ]
    for r in s.last_runs:
        took = f"{(r.finished_at - r.started_at).total_seconds():.1f} s" if r.finished_at else "running/killed"
        lines.append(
            f"  {r.started_at:%Y-%m-%d %H:%M:%S}  {r.kind:<9} {r.status:<10} {took:>14}  "
            f"requests {r.requests}, new numbers {r.new_numbers}, new messages {r.new_messages}, errors {r.errors}"
        )
    if not s.last_runs:
        lines.append("  none yet: run `crawler crawl` or `crawler run`")
    return "\n".join(lines)


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def stats_command(app: AppContext, as_json: bool) -> None:
    """Archive size, per-country counts, messages per day, recent runs, request efficiency.

    Example: crawler stats --json | jq .inbox_polls_24h
    """

    stats = with_archive(app.config.database.url, lambda engines: archive_stats(engines, datetime.now(UTC)))
    click.echo(json.dumps(stats.as_dict(), indent=2) if as_json else format_stats(stats))
