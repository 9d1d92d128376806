"""Commands that write the archive: `migrate`, `crawl`, `demo`."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import click

from crawler.cli import AppContext, pass_app, run_async, with_archive
from crawler.config import Config
from crawler.crawl import CrawlReport, crawl_pass
from crawler.errors import CrawlerError, SiteUnreadableError
from crawler.storage.db import create_engines, migrate_to_head


@click.command("migrate")
@pass_app
def migrate_command(app: AppContext) -> None:
    """Upgrade the database to the newest schema.

    Every command already does this first; this one is for operators.

    Example: crawler migrate --database sqlite+aiosqlite:///smstome.db
    """

    async def go() -> bool:
        engines = create_engines(app.config.database.url)
        try:
            return await migrate_to_head(engines)
        finally:
            await engines.dispose()

    changed = run_async(go())
    click.echo("database migrated to the newest schema" if changed else "database already at the newest schema")


class ProgressLine:
    """One updating status line on a terminal; a plain line now and then otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self.last = 0.0

    def __call__(self, report: CrawlReport, event: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        done = report.inboxes_done
        final = event == "listings" or done == report.inboxes_total
        if not final and now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        line = (
            f"countries {report.countries} · numbers +{report.new_numbers} · "
            f"inboxes {done}/{report.inboxes_total} · new messages {report.walk.new_messages} · "
            f"pages {report.walk.pages + report.listing_pages}"
        )
        if self.tty:
            click.echo(f"\r\x1b[K{line}", err=True, nl=False)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


def format_summary(report: CrawlReport) -> str:
    w = report.walk
    took = ((report.finished_at or report.started_at) - report.started_at).total_seconds()
    inbox_pages = w.pages
    lines = [
        f"crawl finished in {took:.1f} s",
        f"  requests      {report.requests} (home + listing pages {report.listing_pages + 1}, "
        f"inbox pages {inbox_pages}, of which consistency re-reads {w.refetches}), retries {report.retries}",
        f"  countries     {report.countries}",
        f"  new numbers   {report.new_numbers}",
        f"  inboxes       {w.inboxes} walked, {w.empty_polls} with nothing new",
        f"  new messages  {w.new_messages}",
        f"  gated pages   {report.gated_pages}",
        f"  challenged    {report.challenged_pages}",
        f"  errors        {len(report.errors)}",
    ]
    for kind in ("gated", "challenged", "gone"):
        urls = report.unavailable[kind]
        if urls:
            shown = ", ".join(urls[:5]) + (f" and {len(urls) - 5} more" if len(urls) > 5 else "")
            lines.append(f"  {kind}: {shown}")
    for err in report.errors[:10]:
        lines.append(f"  error: {err}")
    if len(report.errors) > 10:
        lines.append(f"  ... and {len(report.errors) - 10} more errors")
    return "\n".join(lines)


def _unreadable(report: CrawlReport) -> SiteUnreadableError:
    if report.gated_pages:
        hint = (
            "the site shows a login wall: export your browser's cookies to a cookies.txt "
            "and set http.cookies_file"
        )
    elif report.challenged_pages:
        hint = "the site answered with Cloudflare challenge pages: slow down (http.requests_per_second) and retry later"
    else:
        hint = "check site.base_url and your network"
    first = report.errors[0] if report.errors else "no page could be read"
    return SiteUnreadableError(f"nothing could be read ({first}); {hint}")


def run_crawl(config: Config, countries: tuple[str, ...], *, progress: bool) -> CrawlReport:
    bar = ProgressLine(progress)

    try:
        return with_archive(
            config.database.url, lambda engines: crawl_pass(engines, config, countries=countries, progress=bar)
        )
    finally:
        bar.close()


@click.command("crawl")
@click.option("--country", "countries", multiple=True, metavar="SLUG", help="Only this country (repeatable).")
@click.option("--max-pages", type=click.IntRange(min=0), help="Inbox pages per inbox per pass (0 = no limit).")
@click.option("--base-url", metavar="URL", help="Site to crawl (a mirror or `crawler sim`).")
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")
@pass_app
def crawl_command(
    app: AppContext, countries: tuple[str, ...], max_pages: int | None, base_url: str | None, progress: bool
) -> None:
    """One full pass: countries -> numbers -> every inbox, newest page first.

    Stops in each inbox where the archive already has the rows (walks to the end the
    first time). Exit 0 when the pass ran, 3 when nothing at all could be read.

    Example: crawler crawl --country finland --base-url http://127.0.0.1:8080
    """
    config = app.config
    if countries:
        from crawler.config import config_from_mapping

        # Slugs are checked like site.countries, before the archive is opened or created.
        config_from_mapping({"site": {"countries": list(countries)}}, "--country")
    if max_pages is not None:
        config = config.replace(crawl=dataclasses.replace(config.crawl, max_pages=max_pages))
    if base_url is not None:
        config = app_config_with_base(config, base_url)
    report = run_crawl(config, countries, progress=progress)
    click.echo(format_summary(report))
    if report.missing_countries and report.home_ok and report.countries == 0:
        listed = ", ".join(report.site_countries) or "none"
        raise CrawlerError(
            f"country {', '.join(report.missing_countries)} is not on the site's home page; it lists: {listed}"
        )
    if not report.readable:
        raise _unreadable(report)


def app_config_with_base(config: Config, base_url: str) -> Config:
    from crawler.config import config_from_mapping

    # Validate the override exactly like a config value (one clear line when wrong).
    config_from_mapping({"site": {"base_url": base_url}}, "--base-url")
    return config.replace(site=dataclasses.replace(config.site, base_url=base_url))


@click.command("demo")
@click.option(
    "--database-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo.db"),
    show_default=True,
    help="SQLite file to create (replaced if it exists).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed.")
@pass_app
def demo_command(app: AppContext, database_file: Path, seed: int) -> None:
    """The offline tour: simulate smstome.com, crawl it into a fresh SQLite file, show it.

    Example: crawler demo && sqlite3 demo.db "select * from message_history limit 5"
    """
    from crawler.demo import run_demo

    click.echo(run_demo(app.config, database_file, seed))
